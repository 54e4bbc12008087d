"""a1 Step 7's hidden runs: real training runs whose labels hold up, which the reference rules name and a constant
answer does not.

The hidden test cell trains its 20 runs itself (secret seeds and settings, so nothing in the release or in losslab
holds them) and scores `diagnose` by accuracy bands. Here the cell runs once with a `diagnose` that keeps each record,
and the records are checked: losslab's own diagnosis, which has documented thresholds and was written apart from the
assignment, finds each run's label among its findings; the source's reference `diagnose` clears every band; no
constant answer clears the lowest.
"""
from __future__ import annotations

import math

import nbformat
import pytest

from autograder.course import SOURCE

LABELS = ("healthy", "overfitting", "underfitting", "slow_convergence", "diverging")
BANDS = {"test_diagnose_hidden": 0.6, "test_diagnose_hidden_75": 0.75, "test_diagnose_hidden_90": 0.9}


def _cells() -> dict[str, str]:
    nb = nbformat.read(SOURCE / "a1_loss_curves" / "a1_loss_curves.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if c.metadata.get("nbgrader")}


@pytest.fixture(scope="module")
def hidden():
    """(label, record) of every hidden run, and the namespace the hidden cells ran in."""
    import torch

    torch.set_num_threads(1)
    records = []

    def keep(history):
        records.append(history)
        return "healthy"

    ns = {"diagnose": keep}
    # assert_avoids reads a notebook's cells (tested with the grading helpers): here a plain function stands in
    source = _cells()["test_diagnose_hidden"].replace("_avoids(diagnose,", "(lambda *args: None)(diagnose,")
    with pytest.raises(AssertionError, match="4 of 20 unseen runs right; this band needs 60 %"):  # 4 healthy runs
        exec(source, ns)  # noqa: S102 - the repository's own test cell
    labels = [label for label, _, _ in ns["_HIDDEN_RUNS"]]
    assert len(records) == len(labels) == ns["_diagnose_hidden"]["total"] == 20
    return list(zip(labels, records))


def _reference_diagnose():
    ns = {"math": math}
    exec(_cells()["diagnose"], ns)  # noqa: S102
    return ns["diagnose"]


def _share(diagnose, runs) -> float:
    return sum(diagnose(record) == label for label, record in runs) / len(runs)


def test_four_runs_of_every_label():
    import collections

    ns = {"_run": None, "_digits_run": None}
    source = _cells()["test_diagnose_hidden"]
    exec(source[source.index("_HIDDEN_RUNS = ["):source.index("]\n_wrong")] + "]", ns)  # noqa: S102
    assert collections.Counter(label for label, _, _ in ns["_HIDDEN_RUNS"]) == {label: 4 for label in LABELS}


def test_losslab_finds_each_hidden_runs_label(hidden):
    from losslab.torch import identify_training_issues

    disagree = [(label, identify_training_issues(record).labels) for label, record in hidden
                if label not in identify_training_issues(record).labels]
    assert not disagree, f"hidden runs whose label losslab does not find: {disagree}"


def test_reference_clears_every_band_and_no_constant_clears_the_lowest(hidden):
    assert _share(_reference_diagnose(), hidden) >= max(BANDS.values())
    for label in LABELS:
        assert _share(lambda history, label=label: label, hidden) < min(BANDS.values()), label


def test_band_cells_read_the_count_and_fail_below_their_band():
    cells = _cells()
    for grade_id, share in BANDS.items():
        if grade_id == "test_diagnose_hidden":
            continue
        needed = math.ceil(share * 20)
        exec(cells[grade_id], {"_diagnose_hidden": {"right": needed, "total": 20, "note": ""}})  # noqa: S102
        with pytest.raises(AssertionError, match=f"needs {round(share * 100)} %"):
            exec(cells[grade_id], {"_diagnose_hidden": {"right": needed - 1, "total": 20, "note": ""}})  # noqa: S102
