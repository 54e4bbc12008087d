"""Lecture 02 (loss functions): every sentence that says what a run shows is checked against that run, in
both twins.

One execution per twin serves all claims (lecture_runs.twin_runs); that it prints nothing on stderr is
checked in test_lectures_quiet.py.
"""
from __future__ import annotations

import math

import pytest

from tests.lectures.lecture_runs import twin_runs

STEM = "02_loss_functions"
PROBE = """
import math as _math
_ce = {}
if "tape" in globals():  # TensorFlow twin
    _ce = {"naive": float(naive), "stable": float(stable), "clipped": float(clipped),
           "stable_grad": tape.gradient(stable, z).numpy().ravel().tolist(),
           "clipped_grad": tape.gradient(clipped, z).numpy().ravel().tolist()}
else:
    _ce = {"naive": float(naive.item()), "stable": float(stable.item()), "stable_grad": z.grad.ravel().tolist()}
PROBE_VALUES = {
    "fits": {name: list(wb) for name, wb in fits.items()},
    "ce": _ce,
    "accuracy": accuracies,
    "val_loss": {name: [r.val_loss[-1] for r in records] for name, records in runs.items()},
    "class_weights": class_weights.tolist(),
    "imbalanced": imb_scores,
    "normalisations": normalisations, "framework_weighted": framework_weighted,
}
"""


run = twin_runs(STEM, PROBE)


def test_mse_tilts_l1_ignores_huber_lands_near_l1(run):
    fits = run.values["fits"]
    (w_mse, _), (w_l1, _), (w_huber, _) = fits["MSE"], fits["L1"], fits["Huber (δ = 1)"]
    assert abs(w_mse - 2) > 0.5 and abs(w_l1 - 2) < 0.25, fits
    assert abs(w_huber - w_l1) < abs(w_huber - w_mse), fits


def test_cross_entropy_on_logits_is_stable(run):
    ce = run.values["ce"]
    assert ce["stable"] == pytest.approx(200, rel=1e-3)
    assert math.isinf(ce["naive"])
    assert ce["stable_grad"][0] > 0.9 and ce["stable_grad"][2] < -0.9, "push class 2 up, class 0 down"
    if run.framework == "tensorflow":
        assert ce["clipped"] == pytest.approx(-math.log(1e-7), rel=1e-3), "clipped to 1e-7: about 16.1"
        assert all(g == 0 for g in ce["clipped_grad"]), "the clipped loss has a zero gradient"


def names(run) -> tuple[str, str, str, str]:
    """SGD right, SGD bug, Adam right, Adam bug: the twins name the bug differently."""
    keys = list(run.values["accuracy"])
    sgd_right, sgd_bug = [k for k in keys if k.startswith("SGD")]
    adam_right, adam_bug = [k for k in keys if k.startswith("ADAM")]
    assert "bug" in sgd_bug and "bug" in adam_bug
    return sgd_right, sgd_bug, adam_right, adam_bug


def test_the_softmax_bug_hurts_sgd_and_adam_hides_it_in_every_seed(run):
    acc, loss = run.values["accuracy"], run.values["val_loss"]
    sgd_right, sgd_bug, adam_right, adam_bug = names(run)
    assert len(acc[sgd_bug]) >= 3
    assert max(acc[sgd_bug]) < min(acc[sgd_right]) - 0.3, acc
    assert min(acc[adam_bug]) > max(acc[sgd_bug]), "the bug hurts SGD more than Adam"
    if run.framework == "pytorch":
        floor = math.log(1 + 9 / math.e)
        assert min(loss[sgd_bug] + loss[adam_bug]) >= floor - 1e-4, "the buggy loss never goes below 1.46"
        assert min(acc[adam_bug]) > min(acc[adam_right]) - 0.03, "Adam hides much of the damage"
    else:
        assert max(acc[sgd_bug]) < 0.15, "with SGD the model stays at chance level (10 %)"
        assert min(acc[adam_bug]) < min(acc[adam_right]) - 0.3, "Adam only partly hides the bug"


def test_class_weights_buy_recall_at_the_price_of_precision_in_every_seed(run):
    weights = run.values["class_weights"]
    assert weights[1] == pytest.approx(10) and weights[1] / weights[0] == pytest.approx(19)
    plain, balanced = run.values["imbalanced"]["no weights"], run.values["imbalanced"]["balanced class weights"]
    assert len(plain) >= 3
    for p, b in zip(plain, balanced):
        assert b["recall"] > p["recall"] and b["precision"] < p["precision"], (p, b)
        assert abs(b["accuracy"] - p["accuracy"]) <= 0.05, "accuracy moves by a few points at most"


def test_weighted_loss_normalisation_is_your_frameworks(run):
    norms, measured = run.values["normalisations"], run.values["framework_weighted"]
    own = [v for k, v in norms.items() if ("PyTorch" in k) == (run.framework == "pytorch")]
    other = [v for k, v in norms.items() if ("PyTorch" in k) != (run.framework == "pytorch")]
    assert measured == pytest.approx(own[0], rel=1e-4)
    assert abs(own[0] - other[0]) > 1e-3 * abs(own[0]), "the two normalisations differ on this batch"


def test_rare_class_weight_is_named_right(run):
    assert "weight to 5 instead of 19" not in run.markdown
