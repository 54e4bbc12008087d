"""Loss-curve figures fit for a slide, from a `TrainingHistory` or a plain dict of lists.

Conventions shared by every figure here:

- The x axis counts epochs from 1 (a per-epoch value is plotted where its epoch ends); per-iteration
  points sit at ``iteration / iters_per_epoch`` on the same axis, faint; a long record is drawn as the
  band between each bin's min and max, so 10^7 iterations draw as fast as 10^3 and no spike is lost.
- Log scale, with ``log_scale="auto"``: used when every drawn finite value is positive and the largest
  is more than ``10**LOG_DECADES`` (100) times the smallest; a loss that spans two decades is unreadable
  on a linear axis, and a loss that can be 0 or negative cannot go on a log axis.
- A series with a NaN/Inf (a diverged run) is drawn up to its last finite point before it, marked with an
  ``x`` there; the run is labelled "diverged (NaN) at epoch k": the axis keeps the range of the finite values.
  Values beyond ``signals.HUGE`` (1e200) count as overflowed too. Whether and where a run diverged is
  `signals.find_divergence`, the definition the diagnosis and the live status line use as well.
- Figures are made and shown through `losslab.core.display`, like every figure losslab draws.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .history import EPOCH_KEYS, ITER_KEYS, TrainingHistory, as_history
from .signals import Divergence, best_epoch, find_divergence, first_nonfinite
from .display import figure_axes, figure_png, finish, kernel_shell, new_figure, show_figure  # noqa: F401
from .smoothing import ema_smooth, minmax_envelope, minmax_indices

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

HistoryLike = TrainingHistory | Mapping[str, Any]

#: Automatic log scale above this many decades between the smallest and largest drawn value.
LOG_DECADES = 2.0
#: Above this many points a per-iteration curve is drawn as its min/max band over MAX_ITER_POINTS/2 bins
#: (about one bin per pixel column of a slide-wide figure).
MAX_ITER_POINTS = 2000
TRAIN_COLOR, VAL_COLOR, BEST_COLOR, BAD_COLOR = "C0", "C1", "0.35", "C3"
#: In `plot_histories`, a run whose series ends this many times above its start "blew up".
BLOWUP = 100.0


# -- public figures ----------------------------------------------------------------------------------
def plot_loss_curves(history: HistoryLike, title: str | None = None, *, smoothing: float = 0.0,
                     log_scale: bool | str = "auto", show_iterations: bool = True,
                     ax: Axes | None = None, show: bool | None = None) -> Figure:
    """Training vs validation loss with the best epoch, overfitting onset and any divergence marked.

    ``smoothing`` is TensorBoard's EMA weight (0 = off; the raw curve stays faint behind). With ``ax``
    the curves go into that axes and nothing is shown unless ``show=True``; otherwise a new figure is
    made and shown unless ``show=False``.
    """
    check_plot_options(smoothing, log_scale)
    h = as_history(history)
    show = ax is None if show is None else show  # an axes handed in is the caller's to show
    fig, ax = figure_axes(ax, show, figsize=(8.0, 4.8))
    drawn: list[np.ndarray] = []
    if show_iterations and len(h.iter_loss):
        drawn += _draw_iterations(ax, h.iter_loss, len(h.iter_loss) / h.epochs, smoothing, TRAIN_COLOR,
                                  "train (per iteration)")
    drawn += _draw_epochs(ax, h.train_loss, smoothing, TRAIN_COLOR, "train")
    if len(h.val_loss):
        drawn += _draw_epochs(ax, h.val_loss, smoothing, VAL_COLOR, "validation")
    diverged = _divergence(h)
    _mark_best_and_overfitting(ax, h, diverged)
    _mark_stop(ax, h, diverged)
    _finish_axes(ax, drawn, log_scale, "loss", title or "Training and validation loss")
    return finish(fig, show)


def plot_lr_comparison(results: Mapping[float, HistoryLike], title: str | None = None,
                       show: bool = True) -> Figure:
    """One panel per learning rate (train vs validation), plus an overview of all runs on one axis.

    A diverged run keeps its panel, titled "diverged" in red, with the curve drawn up to the blow-up.
    """
    if not results:
        raise ValueError("plot_lr_comparison needs at least one {learning_rate: history} entry")
    runs = {float(lr): as_history(h) for lr, h in sorted(results.items(), key=lambda kv: float(kv[0]))}
    if len(runs) < len(results):
        raise ValueError("two entries of results have the same learning rate: give each run its own rate")
    labels = dict(zip(runs, _distinct_labels(list(runs))))
    n = len(runs) + 1
    ncols = min(3, n)
    nrows = -(-n // ncols)
    fig = new_figure(show, figsize=(4.6 * ncols, 3.5 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (lr, h) in zip(axes, runs.items()):
        plot_loss_curves(h, title=labels[lr], ax=ax, show=False)
        if _divergence(h) is not None:
            ax.set_title(f"{labels[lr]}: diverged", color=BAD_COLOR)
    key = "val_loss" if all(len(h.val_loss) for h in runs.values()) else "train_loss"
    plot_histories({labels[lr]: h for lr, h in runs.items()}, key=key, ax=axes[n - 1],
                   title=f"all runs: {key.replace('_', ' ')}", show=False)
    for ax in axes[n:]:
        ax.remove()
    fig.suptitle(title or "Learning-rate comparison")
    return finish(fig, show)


def plot_training_dashboard(history: HistoryLike, show: bool = True) -> Figure:
    """Loss, gradient norm (total, per iteration and per layer) and learning rate, side by side.

    The three panels share the epoch axis, so a loss spike can be matched to a gradient spike or an
    LR step at a glance.
    """
    h = as_history(history)
    fig = new_figure(show, figsize=(15.0, 4.3))
    loss_ax, grad_ax, lr_ax = fig.subplots(1, 3, sharex=True)
    plot_loss_curves(h, title="loss", ax=loss_ax, show=False)

    drawn: list[np.ndarray] = []
    if len(h.iter_grad_norm):
        ipe = len(h.iter_grad_norm) / h.epochs
        drawn += _draw_iterations(grad_ax, h.iter_grad_norm, ipe, 0.0, TRAIN_COLOR, "per iteration")
    for i, (name, norms) in enumerate(h.layer_grad_norm.items()):
        drawn += _draw_epochs(grad_ax, norms, 0.0, f"C{2 + i % 8}", name, lw=1.0, alpha=0.7)
    if len(h.grad_norm):
        drawn += _draw_epochs(grad_ax, h.grad_norm, 0.0, TRAIN_COLOR, "total")
    _finish_axes(grad_ax, drawn, "auto", "gradient L2 norm", "gradient norm",
                 empty="gradient norms not recorded")

    drawn = _draw_epochs(lr_ax, h.lr, 0.0, "C2", "learning rate", drawstyle="steps-mid") if len(h.lr) else []
    _finish_axes(lr_ax, drawn, "auto", "learning rate", "learning rate", empty="learning rate not recorded")
    if drawn and lr_ax.get_yscale() == "linear":
        _set_ylim(lr_ax, np.append(drawn[0], 0.0), log=False)  # from 0: a constant LR is a flat line
    fig.suptitle("Training dashboard")
    return finish(fig, show)


def plot_histories(histories: Mapping[str, HistoryLike], key: str = "val_loss", title: str | None = None, *,
                   smoothing: float = 0.0, log_scale: bool | str = "auto", ax: Axes | None = None,
                   show: bool | None = None) -> Figure:
    """Several runs' `key` series on one axis (e.g. validation loss of three optimizers).

    Each run's lowest point is dotted; a run that diverged ends in an ``x`` and says so in the legend;
    a run without that series is named in the legend as such rather than silently left out. The y range
    follows the runs that did not blow up (ended in NaN/Inf, or ended above ``BLOWUP`` times their first
    value), so one diverged learning rate does not flatten the others into a line at the bottom.
    """
    check_plot_options(smoothing, log_scale)
    if key not in EPOCH_KEYS + ITER_KEYS:
        raise ValueError(f"key must be one of {', '.join(EPOCH_KEYS + ITER_KEYS)}; got {key!r}")
    if not histories:
        raise ValueError("plot_histories needs at least one {name: history} entry")
    runs = {str(name): as_history(h) for name, h in histories.items()}
    if not any(len(h[key]) for h in runs.values()):
        raise ValueError(f"none of the histories has a {key!r} series")
    show = ax is None if show is None else show  # an axes handed in is the caller's to show
    fig, ax = figure_axes(ax, show, figsize=(8.0, 4.8))
    drawn: list[np.ndarray] = []
    calm: list[np.ndarray] = []
    for i, (name, h) in enumerate(runs.items()):
        color = f"C{i % 10}"
        values = h[key]
        if not len(values):
            ax.plot([], [], color=color, label=f"{name} (no {key})")
            continue
        k = first_nonfinite(values)
        unit = "iteration" if key in ITER_KEYS else "epoch"
        label = name if k is None else f"{name} (diverged at {unit} {k + 1})"
        if key in ITER_KEYS:
            run = _draw_iterations(ax, values, len(values) / h.epochs, smoothing, color, label, alpha=0.8)
        else:
            run = _draw_epochs(ax, values, smoothing, color, label)
            y, _ = _cut(values)
            if np.isfinite(y).any():
                best = int(np.nanargmin(y))
                ax.plot([best + 1], [y[best]], "o", color=color, ms=5, zorder=4)
        drawn += run
        if k is None and not _blew_up(run[0]):
            calm += run
    ylabel = key.replace("_", " ")
    _finish_axes(ax, calm if calm and len(calm) < len(drawn) else drawn, log_scale, ylabel,
                 title or f"{ylabel} by run")
    if calm and len(calm) < len(drawn):
        _set_ylim(ax, np.concatenate(calm), log=ax.get_yscale() == "log")
    return finish(fig, show)


def _distinct_labels(lrs: list[float]) -> list[str]:
    """"lr = 0.1"-style labels with as many digits as it takes to tell every rate apart."""
    for digits in range(6, 18):
        labels = [f"lr = {lr:.{digits}g}" for lr in lrs]
        if len(set(labels)) == len(labels):
            return labels
    return [f"lr = {lr!r}" for lr in lrs]


def check_plot_options(smoothing: float, log_scale: bool | str) -> None:
    """Refuse options that would otherwise be silently ignored."""
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float, np.floating)) \
            or not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing is an EMA weight in [0, 1) (0 = off), got {smoothing!r}")
    if log_scale not in (True, False, "auto"):
        raise ValueError(f"log_scale must be True, False or 'auto', got {log_scale!r}")


# -- drawing pieces -------------------------------------------------------------------------------
def _draw_epochs(ax: Axes, values: list[float], smoothing: float, color: str, label: str, *,
                 lw: float = 2.0, alpha: float = 1.0, drawstyle: str = "default") -> list[np.ndarray]:
    """Draw one per-epoch series (x = 1..n); return the drawn values for the log-scale rule."""
    y, cut = _cut(values)
    x = np.arange(1, y.size + 1)
    marker = "o" if y.size <= 40 else None
    if smoothing > 0:
        ax.plot(x, y, color=color, lw=1.0, alpha=0.3, marker=marker, ms=3, drawstyle=drawstyle)
        smooth = ema_smooth(y, smoothing)
        ax.plot(x, smooth, color=color, lw=lw, alpha=alpha, label=f"{label} (EMA {smoothing:g})",
                drawstyle=drawstyle)
        drawn = [y, smooth]
    else:
        ax.plot(x, y, color=color, lw=lw, alpha=alpha, marker=marker, ms=4, label=label, drawstyle=drawstyle)
        drawn = [y]
    _mark_last_finite(ax, x, y, cut)
    return drawn


def _draw_iterations(ax: Axes, values: list[float], iters_per_epoch: float, smoothing: float, color: str,
                     label: str, alpha: float = 0.25) -> list[np.ndarray]:
    """Draw a per-iteration series on the epoch axis: a line, or for a long record its min/max band.

    The band (`minmax_envelope`, ~1000 bins) keeps every spike and draws 10^7 points as fast as 10^3.
    """
    y, cut = _cut(values)
    raw_label = label if smoothing <= 0 else None
    if y.size > MAX_ITER_POINTS:
        centres, low, high = minmax_envelope(y, MAX_ITER_POINTS // 2)
        ax.fill_between((centres + 1) / iters_per_epoch, low, high, color=color, alpha=alpha, lw=0,
                        label=raw_label)
        drawn = [low, high]
    else:
        ax.plot(np.arange(1, y.size + 1) / iters_per_epoch, y, color=color, lw=0.7, alpha=alpha, label=raw_label)
        drawn = [y]
    if smoothing > 0:
        smooth = ema_smooth(y, smoothing)
        keep = minmax_indices(smooth, MAX_ITER_POINTS)
        ax.plot((keep + 1) / iters_per_epoch, smooth[keep], color=color, lw=1.0, alpha=min(1.0, alpha * 3),
                label=f"{label} (EMA {smoothing:g})")
        drawn.append(smooth[keep])
    _mark_last_finite(ax, np.array([y.size / iters_per_epoch]), y[-1:], cut)
    return drawn


def _mark_last_finite(ax: Axes, x: np.ndarray, y: np.ndarray, cut: bool) -> None:
    """An ``x`` where a diverged series was last finite."""
    if y.size and cut:
        ax.plot([x[-1]], [y[-1]], "x", color=BAD_COLOR, ms=10, mew=2.5, zorder=5)


def _mark_best_and_overfitting(ax: Axes, h: TrainingHistory, diverged: Divergence | None) -> None:
    """Vertical line at the best epoch; shade from the overfitting onset (per `diagnosis`) to the end.

    A run that went NaN/Inf gets neither: its "best epoch" is only the last one before the blow-up.
    """
    best = best_epoch(h.train_loss, h.val_loss)
    if best is None or (diverged is not None and diverged.nonfinite):
        return
    name = "val" if best.key == "val_loss" else "train"
    ax.axvline(best.index + 1, color=BEST_COLOR, ls="--", lw=1.2,
               label=f"best epoch {best.index + 1} ({name} {best.value:.3g})")
    ax.plot([best.index + 1], [best.value], "*", color=BEST_COLOR, ms=12, zorder=5)
    onset = _overfitting_onset(h)
    if onset is not None and onset + 1 < h.epochs:
        ax.axvspan(onset + 1, h.epochs, color=BAD_COLOR, alpha=0.07, lw=0,
                   label=f"overfitting from epoch {onset + 1}")


def _mark_stop(ax: Axes, h: TrainingHistory, diverged: Divergence | None) -> None:
    """A red line and label at the epoch where the run diverged, or the recorded stop reason."""
    if diverged is not None:
        ax.axvline(diverged.epoch, color=BAD_COLOR, ls=":", lw=1.5,
                   label=f"diverged ({diverged.label}) at epoch {diverged.epoch}")
    elif h.stop_reason:
        ax.text(0.99, 0.97, f"stopped: {h.stop_reason}", transform=ax.transAxes, ha="right", va="top",
                color=BAD_COLOR, fontsize=9)


def _divergence(h: TrainingHistory) -> Divergence | None:
    """`signals.find_divergence` of the record's loss series (the diagnosis' definition, default thresholds)."""
    return find_divergence(h.train_loss, h.val_loss, h.iter_loss)


def _overfitting_onset(h: TrainingHistory) -> int | None:
    """0-based onset epoch from the diagnosis' overfitting rule, so the plot and the diagnosis agree.

    Only the per-epoch losses are passed on: the rule reads nothing else, and copying a long
    per-iteration record would cost more than the whole figure.
    """
    from .diagnosis import identify_training_issues

    diagnosis = identify_training_issues(TrainingHistory(train_loss=h.train_loss, val_loss=h.val_loss))
    return diagnosis["overfitting"].epoch if "overfitting" in diagnosis else None


def _finish_axes(ax: Axes, drawn: list[np.ndarray], log_scale: bool | str, ylabel: str, title: str,
                 empty: str | None = None) -> None:
    from matplotlib.ticker import MaxNLocator

    if not drawn and empty:
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", color="0.5")
    if log_scale == "auto":
        log_scale = use_log_scale(drawn)
    elif log_scale and not any((s[np.isfinite(s)] > 0).any() for s in drawn):
        log_scale = False  # nothing positive and finite: a log axis would have no range and fail to render
        ax.text(0.5, 0.5, "no positive finite value to draw on a log scale", transform=ax.transAxes,
                ha="center", va="center", color="0.5")
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel + (" (log scale)" if log_scale else ""))
    ax.set_title(title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")


def use_log_scale(series: list[np.ndarray]) -> bool:
    """The automatic log-scale rule: all finite values > 0 and max/min > 10**LOG_DECADES."""
    finite = [s[np.isfinite(s)] for s in series]
    values = np.concatenate(finite) if finite else np.empty(0)
    if values.size == 0 or values.min() <= 0:
        return False
    return bool(np.log10(values.max() / values.min()) > LOG_DECADES)


# -- series helpers -----------------------------------------------------------------------------------
def _blew_up(y: np.ndarray) -> bool:
    finite = y[np.isfinite(y)]
    return bool(finite.size and finite[-1] > BLOWUP * abs(finite[0]))


def _set_ylim(ax: Axes, values: np.ndarray, log: bool) -> None:
    """Limits around `values` with a 5 % margin (in log space on a log axis); never a zero-height range."""
    keep = np.isfinite(values) & (values > 0) if log else np.isfinite(values)
    values = np.log10(values[keep]) if log else values[keep]
    if not values.size:
        return
    lo, hi = values.min(), values.max()
    pad = 0.05 * (hi - lo) if hi > lo else 0.5 if log else 0.1 * max(abs(hi), 1.0)
    lo, hi = lo - pad, hi + pad
    ax.set_ylim((10**lo, 10**hi) if log else (lo, hi))


def _cut(values: list[float]) -> tuple[np.ndarray, bool]:
    """(the series up to, not including, its first NaN/Inf/overflowed value; whether anything was cut)."""
    # fromiter: a 10^7-float list converts ~20 % faster than with asarray (no dtype discovery pass)
    y = (values.astype(float, copy=False) if isinstance(values, np.ndarray)
         else np.fromiter(values, dtype=float, count=len(values)))
    k = first_nonfinite(y)
    return (y[:k], True) if k is not None else (y, False)
