"""Grading round trips on a tiny assignment: statuses, feedback secrecy, outputs, serial == Dask, reruns, zip."""
from __future__ import annotations

import importlib.util
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

from autograder.pipeline import grade
from autograder.results import Status

_spec = importlib.util.spec_from_file_location("grading_conftest", Path(__file__).with_name("conftest.py"))
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)
AID, read_grades = _conftest.AID, _conftest.read_grades


@pytest.fixture(scope="module")
def serial(tiny_course, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    results = grade(tiny_course["submitted"], out, workers=1, source=tiny_course["source"], progress=False)
    return out, results


def test_every_submission_gets_its_expected_grade_and_status(tiny_course, serial):
    out, results = serial
    assert read_grades(out / "grades.csv") == tiny_course["expected"]
    assert {r.student: (r.score, r.status) for r in results} == tiny_course["expected"]
    assert all(r.reason and isinstance(r.status, Status) for r in results)


def test_outputs_are_written(serial):
    out, _ = serial
    assert (out / "autograded" / "ref" / AID / f"{AID}.ipynb").exists()
    report = (out / "report.html").read_text()
    assert "data:image/png;base64," in report and "test_square" in report
    for student in ("ref", "hardcoder", "garbage", "absent"):
        assert (out / "feedback" / student / AID / f"{AID}.html").exists()


def test_feedback_hides_hidden_tests_and_their_tracebacks(tiny_course, serial):
    out, _ = serial
    hardcoder = (out / "feedback" / "hardcoder" / AID / f"{AID}.html").read_text()
    assert "hidden test failed" in hardcoder  # the hidden assert is what failed ...
    for student in tiny_course["expected"]:
        page = (out / "feedback" / student / AID / f"{AID}.html").read_text()
        assert "SECRET-EXPECTATION" not in page and "square(3)" not in page  # ... and neither code nor message shows
    # the instructor's autograded copy still has the hidden test: the secret was there to leak
    assert "SECRET-EXPECTATION" in (out / "autograded" / "hardcoder" / AID / f"{AID}.ipynb").read_text()


def test_merged_gradebook_matches_grades_csv(serial):
    from nbgrader.api import Gradebook

    out, results = serial
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        for r in results:
            if r.status == "missing":
                continue
            assert gb.find_submission(AID, r.student).score == pytest.approx(r.score)


def test_rerun_gives_the_same_grades(tiny_course, tmp_path):
    few = tmp_path / "few"
    for student in ("ref", "garbage", "absent"):
        shutil.copytree(tiny_course["submitted"] / student, few / student)
    out = tmp_path / "out"
    runs = [grade(few, out, workers=1, source=tiny_course["source"], progress=False) for _ in range(2)]
    assert [(r.student, r.score, r.status, r.reason) for r in runs[0]] == \
           [(r.student, r.score, r.status, r.reason) for r in runs[1]]
    assert read_grades(out / "grades.csv") == {s: tiny_course["expected"][s] for s in ("ref", "garbage", "absent")}
    with sqlite3.connect(out / "gradebook.db") as db:  # merged afresh, not appended to
        assert db.execute("select count(*) from submitted_assignment").fetchone()[0] == 2


def test_dask_cluster_by_address_gives_the_serial_grades(tiny_course, serial, tmp_path):
    """An external LocalCluster(2) reached by --scheduler, as a dask-jobqueue or dask-kubernetes one would be."""
    from distributed import LocalCluster

    _, serial_results = serial
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        results = grade(tiny_course["submitted"], tmp_path, scheduler=cluster.scheduler_address,
                        source=tiny_course["source"], progress=False)
    key = lambda r: (r.student, r.assignment, r.score, r.max_score, r.status, r.reason,
                     [(c.grade_id, c.score) for c in r.cells])
    assert [key(r) for r in results] == [key(r) for r in serial_results]
    assert read_grades(tmp_path / "grades.csv") == tiny_course["expected"]


def test_zip_of_flat_files_named_like_zip_collect(tiny_course, tmp_path):
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for student in ("ref", "garbage"):
            zf.write(tiny_course["submitted"] / student / AID / f"{AID}.ipynb", f"{student}_attempt_1_{AID}.ipynb")
    results = grade(archive, tmp_path / "out", workers=1, source=tiny_course["source"], progress=False)
    assert {r.student: (r.score, r.status) for r in results} == {"ref": (3.0, "graded"), "garbage": (0.0, "unreadable")}
