"""Manual grades to final grades through the instructor's commands: grade, a person grades a written answer in
formgrader's gradebook, grade again, finalize. The manual points and the comment reach final/grades.csv, the
feedback page and the LMS exports, and the second autograding does not wipe them."""
from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.finalize import MANUAL_DB, NotGraded, finalize, prepare_formgrader, read_manual

REPO = Path(__file__).resolve().parents[2]
AID = "a1_loss_curves"
STUDENT = "partial"
WRITTEN = ("q1", "q2", "q3", "q4")  # a1's manually graded answers, 2 points each
COMMENT = "Names the gap between the curves; say which curve flattens first."


def cli(*args: str) -> None:
    """`python -m autograder ...`, in this process."""
    assert main(list(args)) == 0, f"python -m autograder {' '.join(args)} failed"


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """One a1 submission graded with `python -m autograder grade` (serial, one assignment: the small case): the
    sample student "partial" (quick to run: its unwritten functions raise at once) with the four questions answered."""
    root = tmp_path_factory.mktemp("finalize")
    notebook = nbformat.read(REPO / "autograder" / "sample_class" / STUDENT / AID / f"{AID}.ipynb", as_version=4)
    answers = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") in WRITTEN]
    assert len(answers) == len(WRITTEN)
    for cell in answers:
        cell.source = f"My answer to {cell.metadata.nbgrader.grade_id}: the validation curve rises after its minimum."
    folder = root / "submissions" / STUDENT / AID
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{AID}.ipynb")
    cli("grade", str(root / "submissions"), "--out", str(root / "out"), "--workers", "1", "--assignments", AID,
         "--quiet")
    return root


def test_manual_grade_survives_regrading_and_reaches_final_outputs(graded):
    from nbgrader.api import Gradebook

    out = graded / "out"
    [auto] = _rows(out / "grades.csv")
    assert prepare_formgrader(out) == []
    assert (out / "nbgrader_config.py").exists() and (out / "exchange").is_dir()
    with Gradebook(f"sqlite:///{out / MANUAL_DB}") as gb:  # what formgrader's Save does
        grade = gb.find_grade("q1", AID, AID, STUDENT)
        assert grade.needs_manual_grade and grade.manual_score is None and float(grade.max_score) == 2
        grade.manual_score = 1.5
        grade.needs_manual_grade = False
        gb.find_comment("q1", AID, AID, STUDENT).manual_comment = COMMENT
        gb.db.commit()

    cli("grade", str(graded / "submissions"), "--out", str(out), "--workers", "1", "--assignments", AID, "--quiet")
    assert read_manual(out / MANUAL_DB).scores == {(STUDENT, AID, AID, "q1"): 1.5}, "regrading touched manual.db"
    cli("finalize", "--out", str(out))

    [final] = _rows(out / "final" / "grades.csv")
    assert float(final["autograded"]) == float(auto["score"]) > 0
    assert float(final["manual"]) == 1.5
    assert float(final["score"]) == float(auto["score"]) + 1.5
    assert float(final["max_score"]) == float(auto["max_score"])
    assert float(final["ungraded"]) == 6, "q2-q4 (2 points each) are still ungraded"
    assert final["comments"] == f"q1: {COMMENT}"
    assert "manual grading: 1.5 points, 6 points not graded yet" in final["reason"]
    assert "await manual grading" not in final["reason"]

    page = html.unescape((out / "final" / "feedback" / STUDENT / AID / f"{AID}.html").read_text(encoding="utf-8"))
    assert COMMENT in page
    scores = [(float(a), float(b)) for a, b in re.findall(r"Score: ([\d.]+) / ([\d.]+)", page)]
    assert scores[0] == (float(final["score"]), float(final["max_score"])), "the page's total is not the final score"
    assert (1.5, 2.0) in scores, "q1's manual points are not on the page"
    assert "BEGIN HIDDEN TESTS" not in page

    [canvas_points, canvas] = _rows(out / "final" / "canvas.csv")
    assert canvas_points["Student"] == "Points Possible" and float(canvas_points[AID]) == float(final["max_score"])
    assert canvas["SIS Login ID"] == STUDENT and float(canvas[AID]) == float(final["score"])
    [moodle] = _rows(out / "final" / "moodle.csv")
    assert moodle["ID number"] == STUDENT and float(moodle[AID]) == float(final["score"])
    assert moodle[f"{AID} feedback"] == final["comments"]

    # formgrader's next start refreshes manual.db from the new autograding and keeps the manual grade
    assert prepare_formgrader(out) == []
    assert read_manual(out / MANUAL_DB).comments == {(STUDENT, AID, AID, "q1"): COMMENT}


def test_finalize_before_grading_says_what_to_run(tmp_path):
    with pytest.raises(NotGraded, match="run `python -m autograder grade"):
        finalize(tmp_path)
