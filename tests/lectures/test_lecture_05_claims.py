"""Lecture 05 (reading loss curves): every sentence that says what a run shows is checked against that run,
in both twins.

One execution per twin serves all claims (lecture_runs.twin_runs); that it prints nothing on stderr is
checked in test_lectures_quiet.py.
"""
from __future__ import annotations

import pytest

from tests.lectures.lecture_runs import twin_runs

STEM = "05_reading_loss_curves"
PROBE = """
from losslab import identify_training_issues as _diagnose
from losslab.core.data import split_indices as _split
PROBE_VALUES = {
    "fits": {k: _diagnose(v).labels for k, v in fits.items()},
    "speeds": {k: _diagnose(v).labels for k, v in speeds.items()},
    "diverged_epochs": speeds["diverging: SGD, lr 1.0"].epochs,
    "diverged_stopped": speeds["diverging: SGD, lr 1.0"].stopped_early,
    "slow_still_falling": speeds["slow: SGD, lr 0.0005"].train_loss[-1] < speeds["slow: SGD, lr 0.0005"].train_loss[-2],
    "live_epochs": live.epochs,
    "fast_is_lowest": min(speeds, key=lambda k: speeds[k].train_loss[-1]) == "fast: Adam, lr 0.005",
    "decay": {k: p.tolist() for k, p in decay_paths.items()},
    "per_seed": {k: {"last": [r.train_loss[-1] for r in runs], "falling": [len(r.train_loss) > 1 and r.train_loss[-1] < r.train_loss[-2] for r in runs],
                     "epochs": [r.epochs for r in runs], "stopped": [r.stopped_early for r in runs]}
                 for k, runs in speed_runs.items()},
    "fit_seeds": {k: {"labels": [_diagnose(r).labels for r in runs], "train": [r.train_loss for r in runs],
                      "val": [r.val_loss for r in runs], "best_epoch": [r.best_epoch + 1 for r in runs]}
                  for k, runs in fit_runs.items()},
    "n_train_overfitting": len(_split(len(X), FIT_SETUPS["overfitting"][1], seed=0)[0]),
}
"""


run = twin_runs(STEM, PROBE)


def test_fits_show_their_shape_in_every_seed(run):
    healthy, over, under = (run.values["fit_seeds"][k] for k in ("healthy", "overfitting", "underfitting"))
    assert len(healthy["labels"]) >= 3, "section 1 runs three seeds"
    assert run.values["n_train_overfitting"] == 54 and "54 training images" in run.markdown
    for s in range(len(healthy["labels"])):
        assert healthy["labels"][s] == ["healthy"], (s, healthy["labels"])
        assert over["labels"][s][0] == "overfitting", (s, over["labels"])
        assert under["labels"][s][0] == "underfitting", (s, under["labels"])
        assert over["val"][s][-1] > 1.5 * min(over["val"][s]), (s, "validation ends above 1.5 times its best")
        assert over["best_epoch"][s] <= 13, (s, "the best epoch is in the first third of the 40")
        assert healthy["train"][s][2] < under["train"][s][-1], (s, "a level the healthy run left behind by epoch 3")
        assert abs(under["val"][s][-1] / under["train"][s][-1] - 1) < 0.15, (s, "underfitting: no gap")
        assert under["train"][s][-1] > 5 * healthy["train"][s][-1], (s, "far above the healthy run")


def test_runs_show_the_shapes_the_lecture_names(run):
    got = run.values
    fits, speeds = got["fits"], got["speeds"]
    assert fits["healthy"] == ["healthy"], fits
    fast = speeds["fast: Adam, lr 0.005"]
    assert not {"oscillation", "diverging", "overfitting", "slow_convergence"} & set(fast), speeds
    assert got["fast_is_lowest"], "the fast run should end with the lowest training loss of the four"
    assert speeds["slow: SGD, lr 0.0005"][0] == "slow_convergence" and got["slow_still_falling"], speeds
    assert speeds["oscillating: SGD, lr 0.3"][0] == "oscillation", speeds
    assert speeds["diverging: SGD, lr 1.0"][0] == "diverging", speeds
    assert got["diverged_stopped"] and got["diverged_epochs"] == 1, "the prose says it dies in its first epoch"
    assert got["live_epochs"] == 15


def test_speed_shapes_hold_in_every_seed(run):
    per_seed = run.values["per_seed"]
    fast, slow, diverging = (per_seed[k] for k in ("fast: Adam, lr 0.005", "slow: SGD, lr 0.0005",
                                                   "diverging: SGD, lr 1.0"))
    assert len(fast["last"]) >= 3
    others = [per_seed[k]["last"] for k in ("slow: SGD, lr 0.0005", "oscillating: SGD, lr 0.3")]
    assert all(f < min(o[i] for o in others) for i, f in enumerate(fast["last"])), "fast ends lowest in every seed"
    assert all(slow["falling"]), "the slow run is still falling at the end in every seed"
    assert all(diverging["stopped"]) and diverging["epochs"] == [1] * len(diverging["epochs"]), "dies in epoch 1"


def test_adam_l2_is_not_adamw(run):
    decay = {k: [tuple(step) for step in path] for k, path in run.values["decay"].items()}
    l2, adamw, builtin = decay["Adam + L2"], decay["AdamW"], decay["Adam(weight_decay=0.1)"]
    steps = len(l2) - 1
    assert abs(l2[-1][1]) < 0.05, "Adam + L2 drives the weight without data gradient to zero"
    assert next(t for t, (_, w2) in enumerate(l2) if abs(w2) < 0.05) < 200, "... in under 200 steps"
    assert l2[-1][0] > 0.9, "... while the weight with large gradients barely shrinks"
    expected = (1 - 0.01 * 0.1) ** steps
    assert adamw[-1][0] == pytest.approx(expected, abs=0.03) and adamw[-1][1] == pytest.approx(expected, abs=0.01)
    same_as = l2 if run.framework == "pytorch" else adamw  # PyTorch: Adam(weight_decay) is L2; Keras 3: decoupled
    flat = [w for step in builtin for w in step]
    assert flat == pytest.approx([w for step in same_as for w in step], abs=1e-5)


def test_prose_separates_weight_decay_from_l2(run):
    assert "**Weight decay** (L2 regularisation)" not in run.markdown
    assert "By the end you will be able to" in run.markdown and "**Predict, then run.**" in run.markdown
