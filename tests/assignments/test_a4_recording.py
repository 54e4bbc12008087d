"""a4_curve_clinic's runs: recorded from real training by benchmarks/a4_record_runs.py, reproducible, and the
unseen runs and the answer key out of everything a student gets."""
from __future__ import annotations

import importlib.util
import json
import sys

import nbformat
import pytest

from autograder.course import REPO
from losslab import TrainingHistory

AID = "a4_curve_clinic"


def _load_script():
    spec = importlib.util.spec_from_file_location("a4_record_runs", REPO / "benchmarks" / "a4_record_runs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


record = _load_script()


def _text(path) -> str:
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)


@pytest.mark.parametrize("name", ["run_C", "hidden_2"])
def test_a_fresh_recording_matches_the_committed_run(name):
    """Real training again (one seen and one unseen run, cheap and far from chaotic: seconds each): the committed
    record's start, end and extremes come back within 2%."""
    recipe = next(r for r in record.SEEN + record.UNSEEN if r.name == name)
    fresh = record.record(recipe)
    assert record.differences(recipe, fresh) == []
    # The check can fail: a run with another bug differs from the committed one.
    other = next(r for r in record.SEEN + record.UNSEEN if r.bug != recipe.bug)
    assert record.differences(other, fresh) != []


def test_the_students_runs_are_the_ones_the_hidden_test_grades():
    key, block = record.recorded("seen")
    files = {r.name: TrainingHistory.load(record.RUNS / f"{r.name}.json") for r in record.SEEN}
    assert set(block) == set(files) == {"run_A", "run_B", "run_C", "run_D", "run_E"}
    assert all(block[k] == files[k] for k in files)
    assert key == {r.name: r.bug for r in record.SEEN}
    assert record.recorded("unseen")[0] == {r.name: r.bug for r in record.UNSEEN}
    assert sorted(r.bug for r in record.SEEN) == sorted(record.BUGS)  # each bug behind exactly one seen run
    assert sorted(r.bug for r in record.UNSEEN) == sorted(record.BUGS)


def test_nothing_a_student_gets_names_a_bug_or_holds_an_unseen_run():
    release = REPO / "release" / AID
    text = _text(release / f"{AID}.ipynb")
    assert "_KEY" not in text and "_RUNS = " not in text and "RECORDED" not in text
    assert not any(r.name in text for r in record.UNSEEN)
    files = sorted(release.glob("*.json"))
    assert [p.name for p in files] == [f"{r.name}.json" for r in record.SEEN]
    for path in files:
        assert path.read_bytes() == (record.RUNS / path.name).read_bytes()
        data = json.loads(path.read_text())
        # the bug's name appears nowhere in a run's record (BUGS lists every name, so the prose may)
        assert not any(bug in json.dumps(data) for bug in record.BUGS), path.name
    # The recipes name the bugs, so the script is not in what nbgrader copies into the release.
    assert not any(p.suffix == ".py" for p in (REPO / "source" / AID).rglob("*"))


def test_the_bugs_are_not_lecture_07s():
    zoo = pytest.importorskip("losslab.core.zoo")
    assert set(record.BUGS).isdisjoint(zoo.BUGS), "a4's runs must be bugs the lecture does not show"
    prose = _text(record.NOTEBOOK)
    assert all(f'"{bug}"' in prose for bug in record.BUGS), "the notebook's BUGS lists every bug the runs have"
