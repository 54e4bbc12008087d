"""Lecture 04 (monitoring): every sentence that says what a run shows is checked against that run, in both twins.

One execution per twin serves all claims (lecture_runs.twin_runs); that it prints nothing on stderr is
checked in test_lectures_quiet.py.
"""
from __future__ import annotations

import math
import re

import pytest

from tests.lectures.lecture_runs import twin_runs

STEM = "04_monitoring"
PROBE = """
import numpy as _np
from losslab import identify_training_issues as _diagnose
PROBE_VALUES = {
    "n_train": int(n_train),
    "history_gap": history.val_loss[-1] / history.train_loss[-1],
    "too_high_last_loss": too_high.train_loss[-1],
    "too_high_last_layer_norms": {k: v[-1] for k, v in too_high.layer_grad_norm.items()},
    "clipped_last_loss": clipped.train_loss[-1],
    "clip_at": clip_at,
    "clip_norms": clip_norms, "clip_cosines": clip_cosines,
    "clip_tensor_norms": {k: [float(_np.linalg.norm(t)) for t in c] for k, c in clipped_grads.items()},
    "schedules": {str(seed): [runs[0].train_loss[-1], runs[1].train_loss[-1]] for seed, runs in schedules.items()},
    "cosine_lr_first_last": [cosine.lr[0], cosine.lr[-1]],
    "candidates": {k: [_diagnose(r).labels for r in runs] for k, runs in candidates.items()},
    "lr_steepest": lr_steepest, "lr_tenth": lr_tenth,
    "lr_at_min": float(result.lrs[int(_np.nanargmin(result.smoothed))]),
}
"""


run = twin_runs(STEM, PROBE)


def test_training_set_size_is_computed_not_typed(run):
    assert run.values["n_train"] == round(1797 * 0.7)
    assert not re.search(r"\b1,2\d\d training images", run.markdown), "the count is printed by the notebook"


def test_generalization_gap(run):
    assert run.values["history_gap"] > 10, "section 2 describes a generalization gap of orders of magnitude"


def test_lr_two_kills_the_units_and_clipping_saves_the_run(run):
    v = run.values
    assert abs(v["too_high_last_loss"] - math.log(10)) < 0.05, "lr 2.0 should leave the net guessing (ln 10)"
    norms = v["too_high_last_layer_norms"]
    out_bias = [name for name in norms if re.search(r"(6\.bias|out/bias)$", name)]
    assert len(out_bias) == 1, norms
    dead = {name: value for name, value in norms.items() if name != out_bias[0]}
    assert all(value < 0.01 * norms[out_bias[0]] for value in dead.values()), f"only the output bias lives: {norms}"
    assert v["clipped_last_loss"] < 0.5, "clipping should let lr 2.0 train far below ln 10"


def test_global_clipping_keeps_the_direction_per_tensor_does_not(run):
    v = run.values
    (glob, per), c = list(v["clip_norms"]), v["clip_at"]
    assert "global" in glob and "per tensor" in per
    assert v["clip_norms"][glob] == pytest.approx(c, rel=1e-3), "the total norm lands on c"
    assert v["clip_cosines"][glob] > 0.9999, "direction unchanged"
    assert all(n <= c * (1 + 1e-4) for n in v["clip_tensor_norms"][per]), "each tensor capped at c"
    assert v["clip_norms"][per] > 1.2 * c, "together they stay above c"
    assert v["clip_cosines"][per] < 0.99, "the direction changes"


def test_cosine_ends_lower_in_every_seed(run):
    schedules = run.values["schedules"]
    assert len(schedules) >= 3
    assert all(cosine < constant for constant, cosine in schedules.values()), schedules
    first, last = run.values["cosine_lr_first_last"]
    assert first == pytest.approx(0.3) and last < 0.01


def test_range_test_readings(run):
    v = run.values
    assert 0.1 < v["lr_steepest"] < 1.0 and 0.01 < v["lr_tenth"] < 0.1, v
    assert v["lr_steepest"] < v["lr_at_min"], "the steepest point is not the largest rate that still makes progress"
    steep, tenth = v["candidates"].values()
    assert sum(labels[0] == "oscillation" for labels in steep) >= 2, "jumpy in at least two of three seeds"
    assert all(labels == ["healthy"] for labels in tenth), "healthy in every seed"


def test_prose_names_the_framework_apis(run):
    md = run.markdown
    assert "clip_grad_norm_" in md and "global_clipnorm" in md and "clipnorm=c" in md
    assert "tf.clip_by_global_norm" in md
    assert "linearly" in md and "geometrically" in md, "Smith's test is linear; the geometric sweep is fastai's"
    assert "every step multiplies them" not in md
