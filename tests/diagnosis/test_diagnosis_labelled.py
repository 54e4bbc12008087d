"""The diagnosis on the committed labelled runs (benchmarks/diagnosis/labelled_runs.json): real training runs
in PyTorch and Keras whose cause was put in on purpose and checked against the run (see make_runs.py)."""
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from losslab.core.diagnosis import identify_training_issues
from losslab.core.history import TrainingHistory

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "diagnosis" / "labelled_runs.json"
RUNS = json.loads(DATA.read_text())["runs"]
RECORDS = [(r["name"], r["label"], TrainingHistory.from_dict(r["history"])) for r in RUNS]
DIAGNOSES = {name: identify_training_issues(h) for name, _, h in RECORDS}
BY_LABEL = defaultdict(list)
for _name, _label, _h in RECORDS:
    BY_LABEL[_label].append((_name, _h))


def _non_finite(h: TrainingHistory) -> bool:
    return not all(math.isfinite(v) for v in [*h.train_loss, *h.val_loss, *h.iter_loss])


def test_the_set_covers_every_cause_in_both_frameworks():
    assert len(RUNS) >= 100
    for label in ("diverging", "oscillation", "slow_convergence", "overfitting", "underfitting",
                  "vanishing_gradients", "healthy"):
        frameworks = {r["framework"] for r in RUNS if r["label"] == label}
        assert frameworks == {"torch", "tensorflow"}, f"{label}: {frameworks}"


def test_no_diverged_or_nan_run_is_called_healthy():
    diverged = [(n, h) for n, label, h in RECORDS if label == "diverging" or _non_finite(h)]
    assert len(diverged) >= 10
    called_healthy = [n for n, _ in diverged if DIAGNOSES[n].healthy or "healthy" in DIAGNOSES[n]]
    assert called_healthy == []


def test_every_finding_carries_numbers_explanation_and_fixes():
    for name, d in DIAGNOSES.items():
        for f in d.findings:
            assert f.evidence and all(math.isfinite(v) for v in f.evidence.values()), (name, f.label)
            assert len(f.explanation) > 100 and f.fixes and f.summary, (name, f.label)
        json.dumps(d.to_dict(), allow_nan=False)


# the weakest per-label recall we accept on this set (evaluate.py prints the measured values)
MIN_RECALL = {"diverging": 0.9, "overfitting": 0.9, "slow_convergence": 0.9, "underfitting": 0.8,
              "vanishing_gradients": 0.8, "healthy": 0.8, "oscillation": 0.6}


@pytest.mark.parametrize("label", sorted(MIN_RECALL))
def test_each_cause_is_named_as_the_primary_finding(label):
    runs = BY_LABEL[label]
    hits = [n for n, _ in runs if _alias(DIAGNOSES[n].primary) == label]
    assert len(hits) / len(runs) >= MIN_RECALL[label], f"{label}: {len(hits)} of {len(runs)}"


def test_overfitting_onset_is_where_validation_turns_up():
    for name, h in BY_LABEL["overfitting"]:
        onset = DIAGNOSES[name]["overfitting"].epoch
        val, train = np.asarray(h.val_loss), np.asarray(h.train_loss)
        assert DIAGNOSES[name]["overfitting"].evidence["onset_epoch"] == onset + 1  # text counts from 1
        # from the onset on, validation never gets (materially) better while training keeps improving
        assert val[onset + 1:].min() >= 0.95 * val[onset], (name, onset)
        assert val[onset + 1:].mean() > val[onset] and train[-1] < train[onset], (name, onset)


def test_nan_runs_with_gradient_norms_report_exploding_gradients():
    nan_grads = [n for n, _, h in RECORDS if h.grad_norm and not all(math.isfinite(g) for g in h.grad_norm)]
    assert nan_grads
    assert all("exploding_gradients" in DIAGNOSES[n] for n in nan_grads)


def test_str_reads_like_a_report():
    name, h = BY_LABEL["overfitting"][0]
    text = f"\nTraining Diagnosis: {DIAGNOSES[name]}"
    head = text.splitlines()[1]
    assert head.startswith("Training Diagnosis: overfitting (from epoch ")
    assert "evidence: onset_epoch=" in text and "why: " in text and "try: stop early" in text
    assert "nan" not in text.lower()


def _alias(label: str) -> str:
    return "diverging" if label == "exploding_gradients" else label
