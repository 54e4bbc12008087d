"""Lecture 03 (optimizers): every sentence that says what a run shows is checked against that run, in both twins.

One execution per twin serves all claims (lecture_runs.twin_runs); that it prints nothing on stderr is
checked in test_lectures_quiet.py.
"""
from __future__ import annotations

import math

import pytest

from tests.lectures.lecture_runs import twin_runs

STEM = "03_optimizers"
PROBE = """
import numpy as _np
_ax = range_fig.axes[0]
_box = _ax.get_legend().get_window_extent(range_fig.canvas.get_renderer())
_hidden = [line.get_label() for line in _ax.lines for xy in line.get_xydata()
           if _np.all(_np.isfinite(xy)) and _box.contains(*_ax.transData.transform(xy))]
PROBE_VALUES = {
    "final_loss": {name: float(bowl(path[-1])) for name, path in paths.items()},
    "max_theta1": {name: float(path[:, 0].max()) for name, path in paths.items()},
    "overshoot": {str(mu): float(v) for mu, v in overshoot.items()},
    "momentum_forms": {form: steps.tolist() for form, steps in momentum_forms.items()},
    "measured_momentum": measured_momentum.tolist(),
    "adam_forms": {f"{form} {g:g}": steps.tolist() for (form, g), steps in adam_forms.items()},
    "measured_adam": {f"{g:g}": steps.tolist() for g, steps in measured_adam.items()},
    "weights_absmax": float(_np.abs(weights).max()), "biases_absmax": float(_np.abs(biases).max()),
    "learning_rates": list(LEARNING_RATES), "seeds": len(SEEDS),
    "finals": {name: values.tolist() for name, values in finals.items()},
    "best_lr": best_lr, "best_lr_per_seed": best_lr_per_seed,
    "verdicts": {name: [dict(c) for c in row] for name, row in verdicts.items()},
    "adam_top_finite": [not runs[LEARNING_RATES[-1]].stopped_early for runs in sweeps["Adam"]],
    "best_mean": {name: float(v) for name, v in best_mean.items()},
    "legend_hides": _hidden,
}
"""


run = twin_runs(STEM, PROBE)


def column(run, name: str, lr: float) -> list[float]:
    """The final validation losses of one optimizer at one rate, one per seed."""
    return [row[run.values["learning_rates"].index(lr)] for row in run.values["finals"][name]]


def test_valley_paths(run):
    loss, right = run.values["final_loss"], run.values["max_theta1"]
    assert min(loss, key=loss.get) == "momentum 0.5, lr 0.07", "momentum 0.5 is called the best of the four"
    assert right["SGD, lr 0.07"] < 0, "SGD crawls along the floor and never passes the minimum"
    assert right["momentum 0.9, lr 0.07"] > 2.0, "momentum 0.9 shoots far past the minimum"
    assert loss["momentum 0.9, lr 0.07"] > 100 * loss["momentum 0.5, lr 0.07"], "... and is still circling"
    assert 0 < right["Adam, lr 0.5"] < right["momentum 0.9, lr 0.07"], "Adam overshoots a little, less than momentum 0.9"


def test_larger_momentum_overshoots_further(run):
    over = run.values["overshoot"]
    assert over["0.0"] < 0, "plain SGD never crosses 0"
    assert over["0.5"] < over["0.9"] < over["0.95"]


def test_each_framework_follows_its_own_momentum_form_and_the_forms_part_at_the_drop(run):
    forms, measured = run.values["momentum_forms"], run.values["measured_momentum"]
    own, other = ("PyTorch", "Keras") if run.framework == "pytorch" else ("Keras", "PyTorch")
    assert max(abs(a - b) for a, b in zip(forms[own], measured)) < 1e-5
    assert max(abs(a - b) for a, b in zip(forms[other], measured)) > 0.1
    drop = 20
    assert forms["PyTorch"][:drop] == pytest.approx(forms["Keras"][:drop]), "same path at a constant rate"
    assert forms["PyTorch"][drop] == pytest.approx(forms["PyTorch"][drop - 1] / 10, rel=0.05), "falls by 10 at once"
    assert forms["Keras"][drop] > 0.85 * forms["Keras"][drop - 1], "Keras' step shrinks gradually"
    assert forms["Keras"][drop + 5] > 3 * forms["PyTorch"][drop + 5]


def test_adam_epsilon_with_tiny_gradients(run):
    forms, measured = run.values["adam_forms"], run.values["measured_adam"]
    own = "PyTorch" if run.framework == "pytorch" else "Keras"
    for g in ("0.01", "1e-06", "1e-08"):
        ref = forms[f"{own} {g}"]
        assert all(abs(m - r) <= 1e-3 * abs(r) + 1e-6 for m, r in zip(measured[g], ref)), f"{own}'s Adam, gradient {g}"
    assert min(forms["PyTorch 0.01"] + forms["Keras 0.01"]) > 0.999, "an ordinary gradient: steps of about lr"
    assert forms["PyTorch 1e-08"] == pytest.approx([0.5] * len(forms["PyTorch 1e-08"]), rel=1e-3)
    assert max(forms["Keras 1e-08"]) < 0.05, "Keras' step is a small fraction of lr"


def test_default_initialisation(run):
    v = run.values
    bound = 1 / math.sqrt(64) if run.framework == "pytorch" else math.sqrt(6 / 128)
    assert 0.97 * bound < v["weights_absmax"] <= bound
    if run.framework == "pytorch":
        assert 0 < v["biases_absmax"] <= bound
    else:
        assert v["biases_absmax"] == 0
    assert math.sqrt(6 / 128) / (1 / math.sqrt(64)) == pytest.approx(1.7, abs=0.05), "'about 1.7 times larger'"


def test_sweep_claims_hold_for_every_seed(run):
    v = run.values
    assert v["seeds"] >= 3
    low, high = v["learning_rates"][0], v["learning_rates"][-1]
    assert all(x > 1.5 for x in column(run, "SGD", low)), "SGD is still far from done at the smallest rate"
    assert all(x < 0.25 for x in column(run, "Adam", low)), "Adam is already useful at the smallest rate"
    assert all(x > 1.8 for x in column(run, "Adam", high)), "Adam is back near chance level at 1.0"
    assert all(x < 1.0 for x in column(run, "SGD", high)), "SGD ends far below chance level at 1.0"
    best_momentum = max(column(run, "momentum 0.9", v["best_lr"]["momentum 0.9"]))
    assert min(column(run, "momentum 0.9", high)) > 5 * best_momentum, "momentum at 1.0 ends far above its best"


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_momentum_at_lr_ends_where_sgd_ends_at_ten_times_lr(run):
    for lr in (0.01, 0.03):
        momentum, sgd = mean(column(run, "momentum 0.9", lr)), mean(column(run, "SGD", round(10 * lr, 3)))
        assert momentum == pytest.approx(sgd, rel=0.25), (lr, momentum, sgd)


def test_best_rates_order_and_vary_with_the_seed(run):
    best, per_seed = run.values["best_lr"], run.values["best_lr_per_seed"]
    assert best["Adam"] < min(best["momentum 0.9"], best["SGD"]), "Adam's best rate sits lowest"
    assert any(len(set(seeds)) > 1 for seeds in per_seed.values()), "a single seed moves some best rate"


def test_diagnosis_prose(run):
    verdicts, rates = run.values["verdicts"], run.values["learning_rates"]
    for lr in rates[:2]:
        assert verdicts["SGD"][rates.index(lr)] == {"slow_convergence": 3}, verdicts["SGD"]
    assert all(run.values["adam_top_finite"]), "Adam at 1.0 stays finite: it did not overflow"


def test_sgd_is_behind_at_its_best_rate(run):
    best = run.values["best_mean"]
    assert best["SGD"] > max(best["momentum 0.9"], best["Adam"]), best


def test_comparison_legend_hides_no_point(run):
    assert run.values["legend_hides"] == [], run.values["legend_hides"]


def test_prose_names_the_framework_differences(run):
    md = run.markdown
    for phrase in ("constant* rate", "epsilon / \\sqrt{1-\\beta_2^t}", "Glorot-uniform", "Kaiming-uniform",
                   "bias correction", "**Predict, then run.**", "By the end you will be able to"):
        assert phrase in md, phrase
    assert md.count("<summary>Answer</summary>") >= 3
