"""Round trips of the real assignments through the grading pipeline, one pipeline call per assignment.

A test module sets ``AID``; its module-scoped ``graded`` fixture copies every sample-class student who handed
that assignment in into tmp_path and grades them in one `autograder.pipeline.grade` call, which builds a fresh
nbgrader course directory (and gradebook) of its own.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder.pipeline import SAMPLE_CLASS, grade
from autograder.course import REPO


def expected_class(aid: str) -> dict[str, dict]:
    """student -> the expected.json entry for ``aid``, for every sample student who handed it in."""
    found = {}
    for path in sorted(SAMPLE_CLASS.glob("*/expected.json")):
        entry = json.loads(path.read_text()).get(aid)
        if entry and entry["status"] != "missing":
            found[path.parent.name] = entry
    return found


def autograded_cells(aid: str) -> dict[str, dict]:
    """grade_id -> nbgrader metadata of every autograded test cell of the source assignment."""
    nb = nbformat.read(REPO / "source" / aid / f"{aid}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def _regions(aid: str, begin: str, end: str) -> tuple[dict[str, list[str]], str]:
    """(grade_id -> stripped lines between the markers, all source text outside such regions)."""
    nb = nbformat.read(REPO / "source" / aid / f"{aid}.ipynb", as_version=4)
    inside: dict[str, list[str]] = {}
    outside: list[str] = []
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        in_region = False
        for line in cell.source.split("\n"):
            if begin in line:
                in_region = True
            elif end in line:
                in_region = False
            elif in_region:
                inside.setdefault(gid, []).append(line.strip())
            else:
                outside.append(line.strip())
    return inside, "\n".join(outside)


def secret_lines(aid: str, begin: str, end: str, min_len: int = 20) -> dict[str, list[str]]:
    """grade_id -> the distinctive lines between ``begin`` and ``end`` markers in the source notebook.

    A line counts when it is at least ``min_len`` characters long and occurs nowhere in the source outside such
    regions (instructions quote some lines on purpose), so finding it in a student-facing file means a leak.
    """
    inside, outside = _regions(aid, begin, end)
    return {gid: [t for t in lines if len(t) >= min_len and t not in outside] for gid, lines in inside.items()}


def hidden_messages(aid: str) -> list[str]:
    """The fixed text of each ``what=`` assertion message of the hidden tests (what a traceback would print)."""
    inside, outside = _regions(aid, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
    found = re.findall(r'what=f?"([^"{]{12,})', "\n".join(line for lines in inside.values() for line in lines))
    return [m for m in found if m not in outside]


def visible_text(page: str) -> str:
    """What a reader of an HTML page sees: tags dropped (syntax highlighting splits code into spans), unescaped."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@dataclass
class Graded:
    """One pipeline run over an assignment's sample students, and the checks the round-trip tests make on it."""

    aid: str
    out: Path
    results: dict
    seconds: float

    def failing(self, student: str) -> list[str]:
        return sorted(c.grade_id for c in self.results[student].cells if c.autograded and c.score < c.max_score)

    def check_reference_gets_full_marks(self) -> None:
        points = {gid: float(c.metadata["nbgrader"]["points"]) for gid, c in autograded_cells(self.aid).items()}
        result = self.results["reference"]
        assert result.status == "graded", result.reason
        assert self.failing("reference") == []
        assert result.score == sum(points.values()) > 0
        assert {c.grade_id for c in result.cells if c.autograded} == set(points)

    def check_blank_gets_zero(self) -> None:
        result = self.results["blank"]
        assert result.status == "graded", result.reason
        assert result.score == 0.0
        assert self.failing("blank") == sorted(autograded_cells(self.aid))

    def check_expected_scores(self) -> None:
        expected = expected_class(self.aid)
        assert set(self.results) == set(expected)
        assert {s: (r.score, r.status) for s, r in self.results.items()} == \
            {s: (e["score"], e["status"]) for s, e in expected.items()}
        # Where a student's entry names the failing cells (the assignment's own sample students do), they match too.
        assert {s: self.failing(s) for s, e in expected.items() if "failing_tests" in e} == \
            {s: sorted(e["failing_tests"]) for s, e in expected.items() if "failing_tests" in e}

    def check_feedback_hides_hidden_tests(self) -> None:
        hidden = secret_lines(self.aid, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
        secrets = [line for lines in hidden.values() for line in lines]
        secrets += hidden_messages(self.aid)
        students = [s for s, r in self.results.items()
                    if r.status == "graded" and set(self.failing(s)) & set(hidden) and s != "blank"]
        assert students, "no sample student fails a hidden test: this check would prove nothing"
        for student in students:
            page = visible_text((self.out / "feedback" / student / self.aid / f"{self.aid}.html").read_text())
            leaked = [line for line in secrets if line in page]
            assert leaked == [], f"{student}'s feedback shows hidden test code or messages: {leaked[:3]}"
            # The instructor's autograded copy has them: the search does find what is there.
            autograded = nbformat.read(self.out / "autograded" / student / self.aid / f"{self.aid}.ipynb", 4)
            sources = "\n".join(c.source for c in autograded.cells)
            assert all(line in sources for lines in hidden.values() for line in lines)


@pytest.fixture(scope="class")
def graded(request, tmp_path_factory) -> Graded:
    """Every sample submission of the test class's assignment (its AID), graded in one pipeline call."""
    aid = request.cls.AID
    submissions = tmp_path_factory.mktemp(f"{aid}-submitted")
    for student in expected_class(aid):
        shutil.copytree(SAMPLE_CLASS / student / aid, submissions / student / aid)
    out = tmp_path_factory.mktemp(f"{aid}-graded")
    # Under pytest-xdist the other worker grades another assignment meanwhile: one kernel each.
    workers = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2
    start = time.perf_counter()
    results = grade(submissions, out, workers=workers, assignments=[aid], progress=False)
    seconds = time.perf_counter() - start
    print(f"graded {len(results)} {aid} submissions in {seconds:.0f} s "
          f"({', '.join(f'{r.student} {r.seconds:.0f} s' for r in results)})")
    return Graded(aid, out, {r.student: r for r in results}, seconds)
