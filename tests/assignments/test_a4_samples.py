"""a4_curve_clinic round trip: its sample submissions (tests/assignments/a4_samples.py: reference, blank, partial
and three realistic mistakes) graded through the pipeline, each to its expected score and failing cells.

While the sample class does not hold a4 yet, this module builds the submissions from the release with the sample
class's own `submission` and grades them in one pipeline call; once the lead folds them into
autograder/sample_class (build.py), test_assignments_roundtrip grades them there and this module skips.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import time

import pytest

from autograder.course import REPO
from autograder.pipeline import SAMPLE_CLASS, grade

sys.path.insert(0, str(REPO / "tests" / "assignments"))
import a4_samples  # noqa: E402  (a data module next to this one)

AID = a4_samples.A4


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_roundtrip = _load(REPO / "tests" / "assignments" / "conftest.py", "a4_roundtrip_conftest")
_build = _load(REPO / "autograder" / "sample_class" / "build.py", "a4_sample_class_build")


def _in_sample_class() -> bool:
    return any(AID in json.loads(p.read_text()) for p in SAMPLE_CLASS.glob("*/expected.json"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if _in_sample_class():
        pytest.skip("the sample class holds a4: test_assignments_roundtrip grades these submissions")
    _build.PARTIAL.setdefault(AID, a4_samples.PARTIAL_A4)
    points = _build.test_points(AID)
    submissions = tmp_path_factory.mktemp("a4-submitted")
    for student, (how, score, failing, _why) in a4_samples.CLASS.items():
        assert not set(failing) - set(points), f"{student}: unknown test cells {set(failing) - set(points)}"
        assert score == sum(points.values()) - sum(points[f] for f in failing), f"{student}: {score} does not " \
            "follow from its failing tests"
        (submissions / student / AID).mkdir(parents=True)
        (submissions / student / AID / f"{AID}.ipynb").write_text(_build.submission(AID, how), encoding="utf-8")
    out = tmp_path_factory.mktemp("a4-graded")
    workers = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2  # one kernel each beside another xdist worker
    start = time.perf_counter()
    results = grade(submissions, out, workers=workers, assignments=[AID], progress=False)
    seconds = time.perf_counter() - start
    print(f"graded {len(results)} {AID} submissions in {seconds:.0f} s")
    return _roundtrip.Graded(AID, out, {r.student: r for r in results}, seconds)


def test_the_points_are_the_ones_the_samples_assume():
    assert _build.test_points(AID) == {"test_name_bug": 1.0, "test_name_bug_seen": 3.0, "test_name_bug_unseen": 3.0,
                                       "test_initial_loss_check": 2.0, "test_initial_loss_check_hidden": 2.0}
    assert sorted(a4_samples.A4_TESTS) == sorted(_build.test_points(AID))


def test_reference_gets_full_autograded_marks(graded):
    graded.check_reference_gets_full_marks()


def test_blank_release_gets_zero(graded):
    graded.check_blank_gets_zero()


def test_every_sample_gets_its_expected_score_and_failing_cells(graded):
    assert {s: (r.score, r.status, graded.failing(s)) for s, r in graded.results.items()} == \
        {s: (score, "graded", sorted(failing)) for s, (_how, score, failing, _why) in a4_samples.CLASS.items()}


def test_feedback_shows_no_hidden_test_code_or_message(graded):
    graded.check_feedback_hides_hidden_tests()
