"""What a person reads: epochs counted from 1, advice in the record's framework, a "why" true to its evidence.

Issue 16 item 1 and issue 18 item 7: one epoch convention (1-based in text, evidence and ``str()``; only
``Finding.epoch`` is a 0-based index), TensorFlow advice for TensorFlow records, and a finite run never
said to overflow.
"""
import math
import re

import pytest

from losslab.core.diagnosis import identify_training_issues
from losslab.core.history import TrainingHistory

NAN = math.nan


def test_nan_in_the_last_of_ten_epochs_is_epoch_10_everywhere():
    train = [1.0 / (i + 1) for i in range(9)] + [NAN]
    d = identify_training_issues({"train_loss": train, "grad_norm": [1.0] * 9 + [NAN]})
    div, grads = d["diverging"], d["exploding_gradients"]
    assert div.epoch == 9 and div.evidence["first_nonfinite_epoch"] == 10  # index 9, read as epoch 10
    assert grads.evidence["first_nonfinite_grad_epoch"] == 10 and "epoch 10" in grads.summary
    assert "epoch 10" in div.summary and "(from epoch 10)" in str(d).splitlines()[0]
    assert not re.search(r"\bepoch 9\b", str(d)) and "=9," not in str(d)


def test_nan_at_an_iteration_reports_that_step_counted_from_1():
    d = identify_training_issues({"train_loss": [1.0, 0.5], "iter_loss": [1.0, 0.9, 0.8, NAN]})
    ev = d["diverging"].evidence
    assert ev["first_nonfinite_iteration"] == 4 and ev["first_nonfinite_epoch"] == 2
    assert "iteration 4" in d["diverging"].summary


def test_healthy_best_epoch_is_counted_from_1():
    val = [1.0, 0.5, 0.3, 0.25, 0.22, 0.21, 0.2, 0.2, 0.2, 0.19]
    d = identify_training_issues({"train_loss": [v * 0.9 for v in val], "val_loss": val})
    assert d.labels == ["healthy"] and d["healthy"].evidence["best_epoch"] == 10
    assert "best_epoch=10" in str(d)


def test_slow_window_start_is_an_epoch_number():
    train = [1.0 * 0.99 ** i for i in range(12)]
    d = identify_training_issues({"train_loss": train, "val_loss": [v * 1.01 for v in train]})
    finding = d["slow_convergence"]
    start = int(finding.evidence["window_start_epoch"])
    assert 2 <= start <= 12 and f"epochs {start}-12" in finding.summary


def test_overfitting_onset_text_evidence_and_index_agree():
    train = [1.0, 0.5, 0.3, 0.2, 0.15, 0.1, 0.08, 0.06]
    val = [1.0, 0.55, 0.4, 0.42, 0.45, 0.5, 0.55, 0.6]
    f = identify_training_issues({"train_loss": train, "val_loss": val})["overfitting"]
    assert val[f.epoch] == min(val) and f.evidence["onset_epoch"] == f.epoch + 1
    assert f"from epoch {f.epoch + 1}" in f.summary


@pytest.mark.parametrize("framework, expect, avoid", [
    ("tensorflow", ["from_logits=True", "keras."], ["nn.CrossEntropyLoss", "torch."]),
    ("torch", ["nn.CrossEntropyLoss", "torch.optim"], ["from_logits", "keras."]),
    (None, ["raw logits"], ["nn.CrossEntropyLoss", "from_logits", "keras.", "torch."]),
])
def test_advice_speaks_the_records_framework(framework, expect, avoid):
    h = TrainingHistory(train_loss=[1.0, NAN], framework=framework)
    text = "\n".join(identify_training_issues(h)["diverging"].fixes)
    assert all(word in text for word in expect) and not any(word in text for word in avoid), text


def test_every_label_has_framework_words_without_leaks():
    curves = {"overfitting": ([1.0, 0.5, 0.3, 0.2, 0.15, 0.1, 0.08, 0.06],
                              [1.0, 0.55, 0.4, 0.42, 0.45, 0.5, 0.55, 0.6]),
              "plateau": ([1.0] * 8, [1.0] * 8)}
    for train, val in curves.values():
        for framework, leak in (("tensorflow", "torch"), ("torch", "keras")):
            d = identify_training_issues(TrainingHistory(train_loss=train, val_loss=val, framework=framework))
            assert all(leak not in fix for f in d.findings for fix in f.fixes), (framework, d.labels)


def test_a_keras_history_gets_tensorflow_words_and_the_framework_can_be_given():
    class KerasHistory:
        history = {"loss": [1.0, math.inf]}

    assert "from_logits" in " ".join(identify_training_issues(KerasHistory())["diverging"].fixes)
    given = identify_training_issues({"train_loss": [1.0, math.inf]}, framework="torch")
    assert "nn.CrossEntropyLoss" in " ".join(given["diverging"].fixes)


def test_a_finite_blow_up_is_never_said_to_overflow():
    """Issue 16: Adam at lr 1.0 blows up in its first steps and settles at a finite 1.47."""
    h = {"train_loss": [2.3, 1.6, 1.5, 1.48, 1.47, 1.47], "iter_loss": [2.3, 40.0, 9.0, 3.0] + [1.5] * 20}
    d = identify_training_issues(h)
    f = d["diverging"]
    assert "overflow" not in f.explanation and "Inf" not in f.explanation and "stayed finite" in f.summary
    assert all(math.isfinite(v) for v in f.evidence.values()) and f.evidence["max_loss"] == 40.0
    nan_run = identify_training_issues({"train_loss": [2.3, NAN]})["diverging"]
    assert "overflows to Inf or NaN" in nan_run.explanation and nan_run.confidence == 1.0


def test_the_capacity_question_is_stated_when_the_curves_cannot_settle_it():
    flat = [2.3, 1.9, 1.7, 1.65, 1.63, 1.62, 1.62, 1.62, 1.62, 1.62]
    d = identify_training_issues({"train_loss": flat, "val_loss": [v * 1.01 for v in flat]})
    f = d["underfitting"]
    assert "cannot tell" in f.summary and f.confidence <= 0.75


def test_every_finding_carries_a_confidence_between_0_and_1():
    for curve in ({"train_loss": [1.0, NAN]}, {"train_loss": [1.0, 0.5, 0.3, 0.2, 0.15]},
                  {"train_loss": [1.0] * 8}, {"train_loss": [0.7]}):
        for f in identify_training_issues(curve).findings:
            assert 0.0 <= f.confidence <= 1.0 and f"confidence {f.confidence:.2f}" in str(f)
            assert f.to_dict()["confidence"] == f.confidence
