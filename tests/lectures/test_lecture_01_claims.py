"""Lecture 01 (the first training loop): every sentence that says what a run shows is checked against that
run, in both twins.

One execution per twin serves all claims (lecture_runs.twin_runs); that it prints nothing on stderr is
checked in test_lectures_quiet.py.
"""
from __future__ import annotations

from tests.lectures.lecture_runs import twin_runs

STEM = "01_first_training_loop"
PROBE = """
import numpy as _np
_w_epochs = _np.abs(w_path[::steps_per_epoch] - w_fit)
_b_epochs = _np.abs(b_path[::steps_per_epoch] - b_fit)
PROBE_VALUES = {
    "batches_per_epoch": [_np.bincount(row, minlength=5).tolist() for row in membership],
    "reshuffled": bool((membership[0] != membership[1]).any() and (membership[1] != membership[2]).any()),
    "final_loss": run["train_loss"][-1],
    "first_residuals": [float(residuals(steps_per_epoch).mean()), float(_np.polyfit(x.ravel(), residuals(steps_per_epoch), 1)[0])],
    "last_residuals": [float(residuals(-1).mean()), float(residuals(-1).std())],
    "learned": [float(w_path[-1]), float(b_path[-1])], "least_squares": [float(w_fit), float(b_fit)],
    "w_settles": int(_np.argmax(_w_epochs < 0.05)), "b_settles": int(_np.argmax(_b_epochs < 0.05)),
    "limit": float(2 / lam_max),
    "lr_runs": {str(lr): [{"train_loss": r["train_loss"], "end": list(r["path"][-1]), "stop": r.get("stop_reason")}
                          for r in seed_runs] for lr, seed_runs in lr_runs.items()},
}
"""


run = twin_runs(STEM, PROBE)


def test_every_sample_once_per_epoch_in_new_batches(run):
    assert run.values["batches_per_epoch"] == [[20] * 5] * 3
    assert run.values["reshuffled"]


def test_loss_levels_off_near_the_noise_variance(run):
    assert 0.18 < run.values["final_loss"] < 0.32, "levels off near 0.5^2 = 0.25"


def test_residuals_first_slope_then_look_like_noise(run):
    mean_1, slope_1 = run.values["first_residuals"]
    assert mean_1 > 0.2 and slope_1 > 0.2, "after one epoch: too low and too flat"
    mean, std = run.values["last_residuals"]
    assert abs(mean) < 0.1 and 0.4 < std < 0.6, "at the end: centred on zero, spread close to 0.5"


def test_parameters_reach_least_squares_w_before_b(run):
    (w, b), (w_fit, b_fit) = run.values["learned"], run.values["least_squares"]
    assert abs(w - w_fit) < 0.05 and abs(b - b_fit) < 0.05
    assert run.values["w_settles"] < run.values["b_settles"], "w settles within a few epochs, b takes longer"
    assert run.values["w_settles"] <= 5


def test_learning_rates_in_every_seed(run):
    limit, runs = run.values["limit"], run.values["lr_runs"]
    assert 0.2 < limit < 0.4, "0.2 is below the stability limit and 0.4 above it"
    w_fit, _ = run.values["least_squares"]
    assert all(len(seed_runs) >= 3 for seed_runs in runs.values()), "each rate runs with three seeds"
    for seed, (slow, medium, fast, diverged) in enumerate(zip(*(runs[lr] for lr in ("0.002", "0.02", "0.2", "0.4")))):
        assert abs(slow["end"][0] - w_fit) < 0.15 and abs(slow["end"][1] - 1) > 0.3, (seed, "w arrived, b far from 1")
        for lr, r in (("0.02", medium), ("0.2", fast)):
            assert r["stop"] is None and r["train_loss"][-1] < 0.35, (seed, lr, "converges")
        assert fast["train_loss"][4] < 0.35, (seed, "0.2 converges in a handful of epochs")
        assert diverged["stop"] and len(diverged["train_loss"]) <= 10, (seed, "0.4 overflows within ten epochs")
