"""A training record prepared once for the rules: arrays, the start level, and the signals several rules read.

Every signal here is computed from the record alone (losses, optionally gradient norms and learning rates),
so the diagnosis works on records from either framework, from Keras ``History.history`` or another tool.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import signals
from ..history import TrainingHistory


@dataclass(frozen=True)
class EndSlope:
    """A straight line through the log training loss of the last epochs (``first`` is a 0-based index).

    Time is counted in `Curves.lr_time`: epochs at the run's peak learning rate, so with a constant rate one
    unit is one epoch.
    """

    first: int
    rate: float       # fall per unit of lr_time, in log (positive while the loss falls)
    t: float          # rate over its standard error: how clearly it falls, against the curve's own noise
    span: float       # the whole run's length in lr_time
    per_epoch: float  # lr_time one epoch of the window adds (1 at a constant rate)

    def fall_if_run_again(self) -> float:
        """The share the loss would lose if trained as long again at this pace (0 when it does not fall)."""
        return float(-math.expm1(-self.rate * self.span)) if self.rate > 0 else 0.0

    def fall_per_epoch(self) -> float:
        """The share the loss loses per epoch at the end of the run."""
        return float(-math.expm1(-self.rate * self.per_epoch))


class Curves:
    """Numpy views of a record, shifted positive when a loss reaches zero or below, plus shared signals."""

    def __init__(self, hist: TrainingHistory):
        self.hist = hist
        raw = {k: signals.as_float_array(getattr(hist, k)) for k in ("train_loss", "val_loss", "iter_loss")}
        self.grad = signals.as_float_array(hist.grad_norm)
        self.n = raw["train_loss"].size
        self.finite = all(signals.first_nonfinite(v) is None for v in raw.values())
        #: added to every loss before the rules read it: 0 for positive losses (see `Thresholds`)
        self.shift = signals.loss_shift(np.concatenate(list(raw.values())))
        self.train, self.val, self.iters = (raw[k] + self.shift for k in ("train_loss", "val_loss", "iter_loss"))
        it0 = float(self.iters[0]) if self.iters.size and signals.is_ok(self.iters[:1])[0] else math.nan
        #: the loss before any update (first iteration) and a robust start level for ratios: one batch is
        #: noisy, so the larger of it and the first epoch's mean (which is lower only if training went fast)
        self.first = it0 if it0 > 0 else float(self.train[0]) if self.n else math.nan
        self.initial = max(self.first, float(self.train[0])) if self.n and math.isfinite(self.train[0]) else self.first
        self.has_val = self.val.size == self.n and self.n > 0

    def raw(self, value: float) -> float:
        """A loss as recorded (undo the shift), for evidence and text."""
        return float(value) - self.shift

    def log_train(self) -> np.ndarray:
        return np.log(np.maximum(self.train, 1e-300))

    def lr_time(self) -> np.ndarray:
        """Training time at the end of each epoch, in epochs at the run's peak learning rate.

        How far gradient descent moves scales with the learning rate, so a schedule that anneals the rate
        bends the loss curve in epochs but hardly against this clock: read against it, a run still falling
        at the end of a cosine or warm-up schedule keeps its straight line, and a converged one stays flat.
        Plain epochs (1, 2, ...) when the record holds no usable rate per epoch.
        """
        lr = signals.as_float_array(self.hist.lr)
        if lr.size != self.n or not self.n or not bool(signals.is_ok(lr).all()) or (lr <= 0).any():
            return np.arange(1, self.n + 1, dtype=float)
        return np.cumsum(lr) / float(lr.max())

    def end_slope(self) -> EndSlope:
        """The line through the last third of the log training loss (at least three epochs), against `lr_time`."""
        k = max(0, self.n - max(3, self.n // 3 + 1))
        y = self.log_train()[k:]
        clock = self.lr_time()
        x = clock[k:]
        xc = x - x.mean()
        sxx = float((xc ** 2).sum())
        slope = float((xc * (y - y.mean())).sum() / sxx) if sxx > 0 else 0.0
        resid = y - y.mean() - slope * xc
        se = math.sqrt(float((resid ** 2).sum()) / max(1, y.size - 2) / sxx) if sxx > 0 else math.inf
        t = -slope / se if se > 0 else (math.inf if slope < 0 else 0.0)
        per_epoch = float(x[-1] - x[0]) / max(1, x.size - 1)
        return EndSlope(k, -slope, t, float(clock[-1]) if clock.size else 0.0, per_epoch)

    def climb(self) -> float:
        """Total rise of the log training loss after epoch 1 (0 for a curve that only goes down)."""
        return float(np.clip(np.diff(self.log_train()[1:]), 0, None).sum())

    def iteration_noise(self, start: int) -> float | None:
        """The standard error minibatch noise gives an epoch mean of the log loss, from epoch ``start`` on.

        The spread of the per-iteration log losses over the square root of the steps per epoch; None when
        no usable per-iteration record exists (a Keras ``History`` holds none).
        """
        per = self.hist.iters_per_epoch
        if not per or self.iters.size < 3 * self.n or (self.iters <= 0).any():
            return None
        stride = float(self.hist.meta.get("iter_stride", 1) or 1)  # a decimated record keeps every k-th step
        tail = np.log(self.iters[int(start * per):])
        if tail.size < 3:
            return None
        return float(np.std(tail) / math.sqrt(max(1.0, per * stride)))

    def gap(self) -> tuple[float, float] | None:
        """(gap, growth): how much better the model fits its training set than its validation set (the mean
        over the last three epochs of log(val) - log(train)), and how fast that gap opened over the second
        half of the run (its fitted slope times the number of epochs). None without a validation loss."""
        if not self.has_val or (self.val <= 0).any() or self.n < 2:
            return None
        g = np.log(self.val) - np.log(self.train)
        half = g[self.n // 2:]
        x = np.arange(half.size, dtype=float) - (half.size - 1) / 2
        growth = float((x * half).sum() / (x ** 2).sum()) * self.n if half.size > 1 else 0.0
        return float(np.mean(g[-3:])), growth

    def spare_capacity(self, still_fitting_t: float) -> float:
        """How fast the model's training loss pulls away from its validation loss while it still fits its
        training set better: the gap's growth (`gap`) when the training loss still falls clearly at the end
        (`end_slope` t at least ``still_fitting_t``); 0 otherwise, or when the gap does not grow or is unknown.

        A model that keeps lowering its training loss while unseen data does not follow is fitting the noise
        of its training set: it could fit more of the pattern if there were more to fit. One whose training
        and validation losses flatten together shows no growth; one too small to fit that bounces around its
        best (its training loss no longer falls) has no capacity to spare, even if validation drifts up. The
        gap's level is not used: it also carries how the split fell (an easy validation split starts below).
        """
        gap = self.gap()
        if gap is None or gap[1] <= 0 or self.n < 4 or self.end_slope().t < still_fitting_t:
            return 0.0
        return gap[1]

    def epoch_grad(self) -> np.ndarray | None:
        """The per-epoch gradient norm when every epoch has a usable, positive one (None otherwise)."""
        g = self.grad
        if g.size != self.n or g.size < 3 or not bool(signals.is_ok(g).all()) or (g <= 0).any():
            return None
        return g

    def lr_evidence(self) -> dict[str, float]:
        lr = [v for v in self.hist.lr if math.isfinite(v)]
        return {"lr": lr[-1]} if lr else {}

