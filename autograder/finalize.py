"""Manual grades to final grades: formgrader on a graded class, then grades, feedback and LMS exports.

`python -m autograder grade` replaces out/grading/gradebook.db on every run, so the grades a person gives live in
their own gradebook, manual.db, the one formgrader writes. `formgrader` refreshes manual.db from the latest
autograding (keeping every manual score, extra credit and comment) and serves out/grading/ as an nbgrader course;
`finalize` reads both gradebooks without changing either and writes out/grading/final/.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SAWarning

from .config import feedback_config
from .course import ensure_alembic_on_path, run_converter
from .feedback import plain_page, with_banner
from .results import Status

AUTOGRADED_DB = "gradebook.db"  # written by `grade`, replaced on every run
MANUAL_DB = "manual.db"  # formgrader's gradebook: `grade` never touches it
FINAL = "final"
#: The suffix the autograder's reason carries while written answers wait for a person; finalize states it anew.
_AWAITING = re.compile(r";\s*[\d.]+ points await manual grading")

Key = tuple[str, str, str, str]  # student, assignment, notebook, cell


class NotGraded(RuntimeError):
    """The folder holds no autograded class: `python -m autograder grade` has to run first."""


@dataclass
class ManualGrades:
    """What people added to a gradebook: scores that override or complete autograding, extra credit, comments."""

    scores: dict[Key, float] = field(default_factory=dict)
    extra_credit: dict[Key, float] = field(default_factory=dict)
    comments: dict[Key, str] = field(default_factory=dict)


def _gradebook(path: Path):
    from nbgrader.api import Gradebook

    ensure_alembic_on_path()  # nbgrader checks the gradebook's schema with the `alembic` command
    return Gradebook(f"sqlite:///{path}")


def _submitted_notebooks(gb):
    for assignment in gb.assignments:
        for submission in gb.assignment_submissions(assignment.name):
            for notebook in submission.notebooks:
                yield submission, notebook


def read_manual(path: Path) -> ManualGrades:
    """The manual scores, extra credit and comments held in the gradebook at `path`."""
    found = ManualGrades()
    with _gradebook(path) as gb:
        for submission, notebook in _submitted_notebooks(gb):
            key = (submission.student.id, submission.assignment.name, notebook.name)
            for grade in notebook.grades:
                if grade.manual_score is not None:
                    found.scores[key + (grade.name,)] = float(grade.manual_score)
                if grade.extra_credit:
                    found.extra_credit[key + (grade.name,)] = float(grade.extra_credit)
            for comment in notebook.comments:
                if comment.manual_comment:
                    found.comments[key + (comment.name,)] = comment.manual_comment
    return found


def apply_manual(path: Path, manual: ManualGrades) -> list[Key]:
    """Write `manual` into the gradebook at `path`; return the keys that match no submitted cell there."""
    from nbgrader.api import MissingEntry

    orphans = []
    with _gradebook(path) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        for kind, values in (("score", manual.scores), ("extra", manual.extra_credit), ("comment", manual.comments)):
            for key, value in values.items():
                student, assignment, notebook, cell = key
                try:
                    if kind == "comment":
                        gb.find_comment(cell, notebook, assignment, student).manual_comment = value
                        continue
                    grade = gb.find_grade(cell, notebook, assignment, student)
                except MissingEntry:
                    orphans.append(key)
                    continue
                if kind == "score":
                    grade.manual_score, grade.needs_manual_grade = value, False
                else:
                    grade.extra_credit = value
        gb.db.commit()
    return sorted(set(orphans))


def _require_graded(out: Path) -> None:
    missing = [name for name in (AUTOGRADED_DB, "grades.csv", "autograded") if not (out / name).exists()]
    if missing:
        raise NotGraded(f"{out} has no {', '.join(missing)}: run `python -m autograder grade --out {out}` first")


def prepare_formgrader(out: Path) -> list[Key]:
    """Make `out` an nbgrader course formgrader can open: nbgrader_config.py (course root `out`, gradebook
    manual.db, a writable exchange) and manual.db = the latest autograding plus every manual grade given so far.

    Run it while no formgrader is serving `out` (it replaces manual.db). Returns the manual grades that found no
    cell in the new autograding (a submission that disappeared): they stay in manual.db.bak."""
    out = Path(out).resolve()
    _require_graded(out)
    manual_db = out / MANUAL_DB
    kept = read_manual(manual_db) if manual_db.exists() else ManualGrades()
    fresh = out / f"{MANUAL_DB}.new"
    shutil.copyfile(out / AUTOGRADED_DB, fresh)
    orphans = apply_manual(fresh, kept)
    if manual_db.exists():
        shutil.copyfile(manual_db, out / f"{MANUAL_DB}.bak")
    fresh.replace(manual_db)
    (out / "exchange").mkdir(exist_ok=True)
    (out / "nbgrader_config.py").write_text(
        "# Written by `python -m autograder formgrader`: formgrader grades into manual.db.\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(out)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(manual_db)!r}\n"
        "c.CourseDirectory.course_id = 'default_course'\n"
        f"c.Exchange.root = {str(out / 'exchange')!r}\n", encoding="utf-8")
    return orphans


def formgrader_command(out: Path, port: int = 8888, browser: bool = True) -> list[str]:
    """The `jupyter lab` command that serves formgrader on `out` (run it with `out` as working directory)."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(out).resolve()}",
           f"--ServerApp.port={port}", "--ServerApp.default_url=/formgrader", f"--ServerApp.open_browser={browser}"]
    return cmd + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])


@dataclass
class FinalGrade:
    """One row of final/grades.csv."""

    student: str
    assignment: str
    score: float
    max_score: float
    autograded: float
    manual: float
    extra_credit: float
    ungraded: float  # points of answers nobody graded yet (they count 0)
    status: Status
    reason: str
    comments: str

    FIELDS = ("student", "assignment", "score", "max_score", "autograded", "manual", "extra_credit", "ungraded",
              "status", "reason", "comments")

    def row(self) -> list[str]:
        return [f"{v:g}" if isinstance(v, float) else v for v in (getattr(self, f) for f in self.FIELDS)]


def _status(row: dict) -> Status:
    try:
        return Status(row["status"])
    except ValueError:
        raise NotGraded(f"grades.csv: {row['student']}/{row['assignment']} has the unknown status {row['status']!r}: "
                        "was it edited? Run `python -m autograder grade` again") from None


def _final_grades(db: Path, autograded_rows: list[dict]) -> list[FinalGrade]:
    from nbgrader.api import MissingEntry

    grades = []
    with _gradebook(db) as gb:
        for row in autograded_rows:
            student, aid = row["student"], row["assignment"]
            try:
                submission = gb.find_submission(aid, student)
            except MissingEntry:  # missing or unreadable: the autograder's row is the whole story
                grades.append(FinalGrade(student, aid, float(row["score"]), float(row["max_score"]),
                                         float(row["score"]), 0.0, 0.0, 0.0, _status(row), row["reason"], ""))
                continue
            cells = [g for nb in submission.notebooks for g in nb.grades]
            manual = sum(float(g.manual_score) for g in cells if g.manual_score is not None)
            auto = sum(float(g.auto_score or 0) for g in cells if g.manual_score is None)
            ungraded = sum(float(g.max_score) for g in cells if g.manual_score is None and g.needs_manual_grade)
            comments = " | ".join(f"{c.name}: {c.manual_comment}" for nb in submission.notebooks
                                  for c in nb.comments if c.manual_comment)
            reason = _AWAITING.sub("", row["reason"])
            if any(g.manual_score is not None or g.needs_manual_grade or g.cell.cell_type == "markdown"
                   for g in cells):  # an assignment with written answers
                reason += f"; manual grading: {manual:g} points" + (
                    f", {ungraded:g} points not graded yet (count 0)" if ungraded else "")
            extra = sum(float(g.extra_credit or 0) for g in cells)
            grades.append(FinalGrade(student, aid, float(submission.score), float(submission.max_score), auto,
                                     manual, extra, ungraded, _status(row), reason, comments))
    return grades


def _feedback(out: Path, db: Path, grades: list[FinalGrade], dest: Path) -> None:
    """nbgrader's generate_feedback on the merged gradebook; the autograder's page where no notebook ran."""
    from nbgrader.converters import GenerateFeedback

    for grade in grades:
        folder = dest / grade.student / grade.assignment
        folder.mkdir(parents=True, exist_ok=True)
        autograded = out / "autograded" / grade.student / grade.assignment
        pages: dict[str, bytes] = {}
        if autograded.is_dir() and grade.status != Status.MISSING:
            with tempfile.TemporaryDirectory(prefix="autograder-finalize-") as tmp:
                root = Path(tmp)
                shutil.copyfile(db, root / "gradebook.db")
                shutil.copytree(autograded, root / "autograded" / grade.student / grade.assignment)
                run = run_converter(GenerateFeedback, feedback_config(root), assignment_id=grade.assignment,
                                    student_id=grade.student, force=True)
                produced = root / "feedback" / grade.student / grade.assignment
                if run["success"]:
                    pages = {p.name: p.read_bytes() for p in sorted(produced.glob("*.html"))}
        if pages:
            for name, page in pages.items():
                (folder / name).write_bytes(with_banner(page, grade.status, grade.reason))
            continue
        for old in sorted((out / "feedback" / grade.student / grade.assignment).glob("*.html")) or [None]:
            name = old.name if old else f"{grade.assignment}.html"
            (folder / name).write_bytes(plain_page(grade.student, grade.assignment, grade.score, grade.max_score,
                                                   grade.status, grade.reason))


def _lms_exports(grades: list[FinalGrade], dest: Path) -> None:
    """canvas.csv and moodle.csv: one row per student, one column per assignment (scores in points).

    Canvas (Gradebook > Import): the columns Student, ID, SIS User ID, SIS Login ID, Section, then one column per
    assignment; a "Points Possible" row under the header. Students are matched by SIS Login ID here (the
    nbgrader student id); a column whose name matches no Canvas assignment is created on import.
    Moodle (Grades > Import > CSV file): a user column mapped under "Identify user by" (here "ID number", the
    nbgrader student id; map it to ID number, username or email as your ids are), a grade column per assignment
    mapped to its grade item, and a "<assignment> feedback" column mapped to that item's feedback."""
    students = sorted({g.student for g in grades})
    assignments = sorted({g.assignment for g in grades})
    by = {(g.student, g.assignment): g for g in grades}
    max_scores = {a: max(g.max_score for g in grades if g.assignment == a) for a in assignments}

    def score(student: str, aid: str) -> str:
        return f"{by[student, aid].score:g}" if (student, aid) in by else ""

    with (dest / "canvas.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + assignments)
        writer.writerow(["Points Possible", "", "", "", ""] + [f"{max_scores[a]:g}" for a in assignments])
        for s in students:
            writer.writerow([s, "", "", s, ""] + [score(s, a) for a in assignments])
    with (dest / "moodle.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID number"] + [h for a in assignments for h in (a, f"{a} feedback")])
        for s in students:
            writer.writerow([s] + [v for a in assignments for v in
                                   (score(s, a), by[s, a].comments if (s, a) in by else "")])


def finalize(out: Path | str) -> list[FinalGrade]:
    """Autograded scores from gradebook.db plus the manual grades of manual.db, into out/final/: gradebook.db,
    grades.csv, feedback/<student>/<assignment>/*.html, canvas.csv and moodle.csv. Changes neither gradebook."""
    out = Path(out).resolve()
    _require_graded(out)
    with (out / "grades.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    dest = out / FINAL
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    db = dest / "gradebook.db"
    shutil.copyfile(out / AUTOGRADED_DB, db)
    manual = read_manual(out / MANUAL_DB) if (out / MANUAL_DB).exists() else ManualGrades()
    orphans = apply_manual(db, manual)
    for key in orphans:
        print(f"warning: manual grade for {'/'.join(key)} matches no graded cell; left out", file=sys.stderr)
    grades = _final_grades(db, rows)
    with (dest / "grades.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FinalGrade.FIELDS)
        writer.writerows(g.row() for g in grades)
    _feedback(out, db, grades, dest / "feedback")
    _lms_exports(grades, dest)
    return grades
