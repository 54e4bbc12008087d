"""Check that a run shows the cause it was given, before it may carry that label.

A learning rate of 0.05 "should" make a run oscillate, but whether it did is a fact about the run. Each check
below reads the run itself and, where a cause is relative ("too slow", "too small a model"), compares it with
its *healthy twin*: the healthy run on the same data, framework and seed. The checks deliberately use
evidence the diagnosis never sees (the twin, how far the first layer's weights moved) or a stricter, plainer
form of the definition, so a run that passes is an honest example of its cause. Divergence is the exception:
it has one definition in the project (`losslab.core.signals.find_divergence`, what the plots mark), and a
run that spiked but recovered is not diverged by it, so it cannot carry that label. Runs that fail are dropped
and listed with the reason; none is relabelled.
"""
from __future__ import annotations

import math

import numpy as np

from losslab.core.history import TrainingHistory
from losslab.core.signals import find_divergence

#: A twin is "clearly better" when its final training loss is at most half of the run's.
WORSE = 2.0


def initial_loss(h: TrainingHistory) -> float:
    """The loss before any update: the first iteration's (the first epoch's mean when iterations are missing)."""
    return float(h.iter_loss[0] if len(h.iter_loss) else h.train_loss[0])


def uphill(h: TrainingHistory) -> float:
    """Total climb of the log training loss: 0 for a curve that only goes down."""
    log = np.log(np.maximum(np.asarray(h.train_loss, dtype=float), 1e-300))
    return float(np.clip(np.diff(log), 0, None).sum())


def check(label: str, h: TrainingHistory, twin: TrainingHistory | None, floor: float = 0.0) -> tuple[bool, str]:
    """(passed, why) for one run and its intended label.

    ``floor`` is the lowest loss the data allows (its noise, known by construction; 0 for clean data). Losses
    are compared by their excess over it, so "fits little" means little of what *could* be fitted: a run on
    40 % random labels that reached the labels' entropy is healthy, not underfitting.
    """
    train = np.asarray(h.train_loss, dtype=float)
    val = np.asarray(h.val_loss, dtype=float)
    finite = bool(np.isfinite(train).all() and np.isfinite(val).all() and np.isfinite(h.iter_loss).all())
    init = initial_loss(h)
    if label == "diverging":  # the project's one definition (plots mark the same runs)
        found = find_divergence(h.train_loss, h.val_loss, h.iter_loss)
        peak = float(np.max(np.concatenate([train, np.asarray(h.iter_loss, dtype=float)])))
        return found is not None, (f"losslab.core.signals.find_divergence: {found.kind if found else 'none'}; "
                                   f"peak/initial loss = {peak / init:.3g}, last/initial = {train[-1] / init:.3g}")
    if not finite:
        return False, "the loss became non-finite: this run diverged"
    n = len(train)
    third = max(2, n // 3)
    recent = train[-third - 1:]
    still_falling = float(np.mean(np.diff(recent) < 0))
    recent_drop = 1 - recent[-1] / recent[0]
    twin_last = twin.train_loss[-1] if twin is not None else math.nan
    if floor and twin is not None:  # a twin can fit below the floor (memorising noise): compare with the floor
        twin_last = floor + max(twin_last - floor, 0.1 * (init - floor))
    if label == "oscillation":
        up, twin_up = uphill(h), (uphill(twin) if twin is not None else 0.0)
        ok = train.min() < 0.5 * init and up >= 0.3 and up >= 3 * twin_up
        return ok, (f"log-loss climbed {up:.3g} in total (twin {twin_up:.3g}; needs >= 0.3 and >= 3x twin); "
                    f"min/initial = {train.min() / init:.3g} (needs < 0.5: it learned, it did not diverge)")
    if label == "slow_convergence":
        ok = train[-1] - floor >= WORSE * (twin_last - floor) and recent_drop >= 0.01 and still_falling >= 0.7
        return ok, (f"final loss {train[-1]:.4g} vs healthy twin {twin_last:.4g} (needs >= {WORSE}x); last "
                    f"{third} epochs: drop {recent_drop:.3g} (>= 0.01), falling in {still_falling:.0%} (>= 70%)")
    if label == "overfitting":
        best = int(np.argmin(val))
        tail = float(np.mean(val[-3:]))
        ok = best <= n - 3 and tail >= 1.1 * val[best] and train[-1] < train[best]
        return ok, (f"val min {val[best]:.4g} at epoch {best}, mean of last 3 = {tail:.4g} (needs >= 1.1x); "
                    f"train {train[best]:.4g} -> {train[-1]:.4g} (needs to fall)")
    if label == "underfitting":
        val_up = val[-1] / val.min() - 1
        ok = train[-1] - floor >= WORSE * (twin_last - floor) and recent_drop < 0.05 and val_up < 0.1
        return ok, (f"final loss {train[-1]:.4g} vs healthy twin {twin_last:.4g} (needs >= {WORSE}x); last "
                    f"{third} epochs drop {recent_drop:.3g} (needs < 0.05: converged); val {val_up:.3g} above its "
                    "min (needs < 0.1)")
    if label == "vanishing_gradients":
        moved = h.meta.get("first_layer_weight_change", math.nan)
        twin_ratio = twin.train_loss[-1] / initial_loss(twin) if twin is not None else math.nan
        ok = moved < 1e-3 and train[-1] >= 0.5 * init and twin_ratio < 0.5
        return ok, (f"first layer's weights moved {moved:.3g} (relative; needs < 1e-3); final/initial loss "
                    f"{train[-1] / init:.3g} (needs >= 0.5) while the ReLU twin reached {twin_ratio:.3g} (< 0.5)")
    if label == "healthy":
        val_up = val[-1] / val.min() - 1
        left = (train[-1] - floor) / (init - floor)
        ok = left <= 0.3 and recent_drop < 0.35 and val_up < 0.1 and uphill(h) < 0.3
        return ok, (f"final loss above the floor {floor:.3g} / initial {left:.3g} (needs <= 0.3); "
                    f"last {third} epochs drop "
                    f"{recent_drop:.3g} (needs < 0.35: settled); val {val_up:.3g} above its min (< 0.1); "
                    f"log-loss climbed {uphill(h):.3g} (< 0.3)")
    raise ValueError(f"no check for label {label!r}")
