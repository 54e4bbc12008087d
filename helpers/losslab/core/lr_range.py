"""The learning-rate range test (Smith, "Cyclical Learning Rates", arXiv 1506.01186).

Train for a few hundred steps while the learning rate grows geometrically; the loss falls, then turns
ragged and blows up. A good learning rate lies where the loss falls fastest. The framework flavors supply
one training step; the sweep, the early stop and the suggestion live here once.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .smoothing import ema_smooth

#: EMA weight for the smoothed loss (fastai's and Smith's usual 0.98 is for ~100-step sweeps).
SMOOTHING = 0.9
#: Stop once the smoothed loss exceeds this multiple of its best value: the run has diverged. A loss that can
#: be negative (a log-likelihood) has no meaningful multiple: there the sweep stops once the loss rose
#: ``DIVERGE_FACTOR - 1`` times the larger of ``|best|`` and how far it had fallen from its start.
DIVERGE_FACTOR = 4.0


@dataclass
class RangeTestResult:
    """Learning rates tried, the raw and smoothed loss at each, and the suggested learning rate."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float] = field(default_factory=list)
    suggested_lr: float | None = None

    def plot(self, ax=None, show: bool = True):
        """Loss against learning rate (log x), with the suggestion marked; shown like every losslab figure.

        Unlike the record plots, a new figure is registered with pyplot even with ``show=False``, as it
        always was: a caller may draw on it and then call ``plt.show()`` (lecture 04 does).
        """
        from .display import figure_axes, finish

        fig, ax = figure_axes(ax, True, figsize=(6.0, 4.0))
        ax.plot(self.lrs, self.losses, color="0.75", lw=1, label="loss")
        ax.plot(self.lrs, self.smoothed, color="C0", lw=2, label="smoothed")
        if self.suggested_lr is not None:
            ax.axvline(self.suggested_lr, color="C3", ls="--", label=f"suggested lr = {self.suggested_lr:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title("Learning-rate range test")
        ax.legend()
        return finish(fig, show)


def suggest_lr(lrs, losses, smoothing: float = SMOOTHING) -> float | None:
    """The learning rate where the smoothed loss falls fastest (per decade), before its minimum.

    Returns None when the loss never falls (too few points, or the range started too high).
    """
    lrs = np.asarray(lrs, dtype=float).reshape(-1)
    smooth = ema_smooth(losses, smoothing)
    if lrs.size != smooth.size:
        raise ValueError(f"lrs and losses must pair up, got {lrs.size} learning rates and {smooth.size} losses")
    finite = np.isfinite(smooth) & (lrs > 0)
    lrs, smooth = lrs[finite], smooth[finite]
    if len(lrs) < 5:
        return None
    skip = max(1, len(lrs) // 10)  # the debiased EMA still swings in its first steps (fastai skips them too)
    stop = int(np.argmin(smooth)) + 1
    if stop - skip < 3:
        return None
    slope = np.gradient(smooth[skip:stop], np.log10(lrs[skip:stop]))
    best = int(np.argmin(slope))
    return float(lrs[skip + best]) if slope[best] < 0 else None


def run_range_test(step: Callable[[float], float], start_lr: float = 1e-6, end_lr: float = 10.0,
                   num_iters: int = 100, smoothing: float = SMOOTHING,
                   diverge_factor: float = DIVERGE_FACTOR) -> RangeTestResult:
    """Call ``step(lr)`` (one optimizer step at that rate, returning its loss) over a geometric sweep."""
    if not (0 < start_lr < end_lr) or not math.isfinite(end_lr):
        raise ValueError(f"need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if int(num_iters) < 5:
        raise ValueError(f"num_iters must be at least 5 for a usable sweep, got {num_iters}")
    lrs, losses, smoothed = [], [], []
    avg, best = 0.0, math.inf
    for i, lr in enumerate(np.geomspace(start_lr, end_lr, int(num_iters))):
        loss = float(step(float(lr)))
        lrs.append(float(lr))
        losses.append(loss)
        if not math.isfinite(loss):
            smoothed.append(math.nan)
            break
        avg = smoothing * avg + (1 - smoothing) * loss
        value = avg / (1 - smoothing ** (i + 1))
        smoothed.append(value)
        best = min(best, value)
        first = smoothed[0]
        if value - best > (diverge_factor - 1) * (best if best > 0 else max(-best, first - best)):
            break
    return RangeTestResult(lrs, losses, smoothed, suggest_lr(lrs, losses, smoothing))

