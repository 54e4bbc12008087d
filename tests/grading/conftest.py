"""A tiny nbgrader course built in tmp_path: one assignment, one hidden test, a handful of students."""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

AID = "tiny"
SOLUTION = "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"
VISIBLE_TEST = "assert square(2) == 4, 'square(2) should be 4'"
HIDDEN_TEST = ("### BEGIN HIDDEN TESTS\nassert square(3) == 9, 'SECRET-EXPECTATION square(3) should be 9'\n"
               "### END HIDDEN TESTS")
WARN_TEST = "import warnings\nwarnings.warn('a noisy library warning')\nassert square(0) == 0"


def _meta(grade_id: str, *, grade: bool, solution: bool, points: float = 0) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": not solution, "grade_id": grade_id,
            "schema_version": 3}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def write_source(root: Path) -> Path:
    """source/tiny/tiny.ipynb: a solution cell and two test cells (one with a hidden test) worth 3 points."""
    nb = new_notebook(cells=[
        new_markdown_cell("Implement `square`.", id="intro"),
        new_code_cell(SOLUTION, id="square", metadata=_meta("square", grade=False, solution=True)),
        new_code_cell(VISIBLE_TEST + "\n" + HIDDEN_TEST, id="test_square",
                      metadata=_meta("test_square", grade=True, solution=False, points=2)),
        new_code_cell(WARN_TEST, id="test_warn", metadata=_meta("test_warn", grade=True, solution=False, points=1)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    folder = root / "source" / AID
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{AID}.ipynb")
    return root / "source"


def _student_copy(release_nb: Path, body: str | None = None, edit=None) -> bytes:
    nb = nbformat.read(release_nb, 4)
    for cell in nb.cells:
        if body is not None and cell.get("id") == "square":
            cell.source = body
    if edit is not None:
        edit(nb)
    return nbformat.writes(nb).encode()


def write_class(release_nb: Path, dest: Path) -> dict[str, tuple[float, str]]:
    """Submissions made from the generated release, and the (score, status) each must get."""
    def drop_warn_test(nb):
        nb.cells = [c for c in nb.cells if c.get("id") != "test_warn"]

    def weaken_test(nb):
        for c in nb.cells:
            if c.get("id") == "test_square":
                c.source = "assert True"

    students = {
        "ref": (_student_copy(release_nb, "def square(x):\n    return x * x"), (3.0, "graded")),
        "hardcoder": (_student_copy(release_nb, "def square(x):\n    return 4"), (0.0, "graded")),
        "deleter": (_student_copy(release_nb, "def square(x):\n    return x * x", drop_warn_test),
                    (3.0, "cells_missing")),
        "cheater": (_student_copy(release_nb, "def square(x):\n    return 4", weaken_test), (0.0, "tampered")),
        "garbage": (b"{ this is not json", (0.0, "unreadable")),
    }
    expected = {}
    for student, (data, want) in students.items():
        folder = dest / student / AID
        folder.mkdir(parents=True)
        (folder / f"{AID}.ipynb").write_bytes(data)
        expected[student] = want
    (dest / "absent").mkdir()
    expected["absent"] = (0.0, "missing")
    return expected


@pytest.fixture(scope="session")
def tiny_course(tmp_path_factory) -> dict:
    """source/ and a class of submissions for the tiny assignment, built once per test session."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from autograder.release import generate

    root = tmp_path_factory.mktemp("tiny")
    source = write_source(root)
    generate(root / "release", [AID], source)
    expected = write_class(root / "release" / AID / f"{AID}.ipynb", root / "submitted")
    return {"root": root, "source": source, "submitted": root / "submitted", "expected": expected,
            "release": root / "release"}


def read_grades(path: Path) -> dict[str, tuple[float, str]]:
    import csv

    with path.open() as handle:
        return {row["student"]: (float(row["score"]), row["status"]) for row in csv.DictReader(handle)}


__all__ = ["AID", "HIDDEN_TEST", "json", "read_grades"]
