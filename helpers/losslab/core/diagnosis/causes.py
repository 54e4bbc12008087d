"""Rules that name a likely *bug* behind the curves, beside the shape the other rules name.

Lecture 07's zoo (``losslab.core.zoo``) showed three bugs whose signature the curves alone carry: gradients
accumulated across steps (no ``zero_grad``), training data in the same class-sorted order every epoch, and
heavily noisy labels. A cause finding never replaces the shape verdict (a run can diverge *because* its
gradients accumulate): it is ranked after the shape findings, so ``Diagnosis.primary`` stays the shape.
Thresholds (``accum_*``, ``unshuffled_*``, ``noise_*`` in `Thresholds`) were chosen on zoo runs of PyTorch
seeds 0-1 and the development set of ``benchmarks/diagnosis`` (as negatives); ``evaluate_zoo.py`` scores
them on runs kept out of that: TensorFlow, other seeds, other model sizes and learning rates.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import signals
from .rules import Context, confidence, _margin
from .model import Finding


def findings(x: Context, shape: Sequence[str] = ()) -> list[Finding]:
    """Every cause the curves show, given the ``shape`` labels already found. Label noise is not asked for
    once unshuffled data is found (batches in a fixed, sorted order also leave the loss high, the gradient
    growing and a gap, for another reason), nor on a run that blew up (its loss never settled)."""
    out = [f for rule in (gradient_accumulation, unshuffled_data) if (f := rule(x)) is not None]
    blew_up = {"diverging", "exploding_gradients"} & set(shape)
    if not blew_up and not any(f.label == "unshuffled_data" for f in out) and (noise := label_noise(x)) is not None:
        out.append(noise)
    return out


def gradient_accumulation(x: Context) -> Finding | None:
    """The gradient norm climbs steadily from the first steps to many times its start, and the loss does not
    settle: what a running sum of gradients (no ``zero_grad``) looks like."""
    c, th = x.c, x.th
    g, per = _gradients(c)
    if g is None or c.n < 3:
        return None
    window = g[:max(4, 3 * per)]
    peak = int(np.argmax(window))
    if peak < 3 or window[0] <= 0:
        return None
    rise = float(window[peak] / window[0])
    steady = _rank_correlation(window[:peak + 1])
    lows = c.train[signals.is_ok(c.train)]
    unsettled = float(c.train[-1] / lows.min()) if lows.size and lows.min() > 0 and math.isfinite(c.train[-1]) \
        else math.inf
    margin = _margin([(rise, th.accum_rise), (steady, th.accum_steady), (unsettled, th.accum_unsettled)])
    if margin < 1:
        return None
    ev = {"grad_rise": rise, "rise_steadiness": steady, "peak_iteration" if per > 1 else "peak_epoch": peak + 1,
          "last_over_lowest_loss": unsettled}
    return x.finding("gradient_accumulation", ev, None,
                     f"the gradient norm climbed steadily to {rise:.0f}x its first value within the first epochs "
                     f"(rank correlation with time {steady:.2f}) while the loss never settled (it ends at "
                     f"{unsettled:.3g}x its lowest): gradients that add up instead of being cleared",
                     confidence(margin))


def unshuffled_data(x: Context) -> Finding | None:
    """The per-iteration loss repeats its pattern from one epoch to the next: the batches come in the same
    order every epoch, and differ in kind (data sorted by class)."""
    c, th = x.c, x.th
    per = c.hist.iters_per_epoch
    if not c.finite or not per or c.n < th.min_epochs or float(c.hist.meta.get("iter_stride", 1) or 1) != 1:
        return None
    repeat = signals.epoch_pattern(c.iters, int(round(per)))
    x.near["unshuffled_data"] = repeat / th.unshuffled_pattern
    if repeat < th.unshuffled_pattern:
        return None
    return x.finding("unshuffled_data", {"epoch_to_epoch_correlation": repeat, "iterations_per_epoch": per}, None,
                     f"the per-iteration loss repeats from one epoch to the next (correlation {repeat:.2f} between "
                     "consecutive epochs, trends removed; shuffled batches give about 0)",
                     confidence(repeat / th.unshuffled_pattern))


def label_noise(x: Context) -> Finding | None:
    """The loss settles high while the model starts to memorise: the gradient norm grows instead of
    shrinking and the gap to validation opens. A model too small to fit shows neither."""
    c, th = x.c, x.th
    if not c.finite or c.n < th.min_epochs or not c.initial > 0:
        return None
    gap, g = c.gap(), c.epoch_grad()
    if gap is None or g is None:
        return None
    left = float(c.train[-1] / c.initial)
    growth = float(g[-1] / g[1:].min()) if g[1:].min() > 0 else 0.0
    margin = _margin([(left, th.noise_left), (growth, th.noise_grad_growth), (gap[0], th.noise_gap),
                      (gap[1], th.noise_gap)])
    x.near["label_noise"] = margin
    if margin < 1:
        return None
    ev = {"last_over_initial": left, "grad_norm_growth": growth, "val_over_train": math.exp(gap[0]),
          "gap_growth": gap[1]}
    return x.finding("label_noise", ev, None,
                     f"the loss settled at {left:.0%} of its start while the gradient norm grew {growth:.2g}x from "
                     f"its lowest and validation drifted {math.expm1(gap[0]):.0%} above training: the model "
                     "memorises labels it cannot predict", min(confidence(margin), 0.75))


def _gradients(c) -> tuple[np.ndarray | None, int]:
    """The per-iteration gradient norm (and steps per epoch) when recorded, else the per-epoch one (and 1)."""
    it = signals.as_float_array(c.hist.iter_grad_norm)
    per = c.hist.iters_per_epoch
    if it.size >= 4 and per and float(c.hist.meta.get("iter_stride", 1) or 1) == 1:
        g, step = it, max(1, int(round(per)))
    else:
        g, step = c.grad, 1
    if g.size < 4:
        return None, step
    ok = signals.first_nonfinite(g)
    g = g[:ok] if ok is not None else g
    return (g, step) if g.size >= 4 else (None, step)


def _rank_correlation(y: np.ndarray) -> float:
    """Spearman's correlation of ``y`` with its position: 1 for a series that only rises."""
    ranks = np.argsort(np.argsort(y)).astype(float)
    t = np.arange(y.size, dtype=float)
    ranks -= ranks.mean()
    t -= t.mean()
    den = math.sqrt(float((ranks ** 2).sum() * (t ** 2).sum()))
    return float((ranks * t).sum() / den) if den > 0 else 0.0
