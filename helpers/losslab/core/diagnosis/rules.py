"""The rules: each reads the prepared `Curves` and returns its findings (most return one or none).

A rule that fires has every condition at or past its threshold; its confidence grows with the weakest
condition's margin (`confidence`). Rules that could fire but did not leave their weakest margin in
``near``, so a healthy verdict's confidence says how close the run came to a problem.
"""
from __future__ import annotations

import bisect
import math

import numpy as np

from .. import signals
from ..history import TrainingHistory
from . import advice
from .curves import Curves
from .model import Finding
from .thresholds import Thresholds


class Context:
    """What one diagnosis shares between rules: the curves, the thresholds, the framework, near misses."""

    def __init__(self, curves: Curves, th: Thresholds, framework: str | None):
        self.c, self.th, self.framework = curves, th, framework
        self.near: dict[str, float] = {}
        self.floor_note: str | None = None
        self.floor_evidence: dict[str, float] = {}

    def finding(self, label: str, ev: dict[str, float], epoch: int | None, summary: str, confidence: float, *,
                nonfinite: bool = True) -> Finding:
        return Finding(label, {k: float(v) for k, v in ev.items()},
                       advice.explanation(label, self.framework, nonfinite=nonfinite),
                       advice.fixes(label, self.framework), epoch, summary, round(float(confidence), 2))


def confidence(margin: float) -> float:
    """0.5 at a threshold, towards 1 as the weakest condition's ratio to its threshold (``margin``) grows."""
    return 0.5 + 0.5 * math.tanh(math.log(margin)) if margin > 0 else 0.0


def _margin(pairs: list[tuple[float, float]]) -> float:
    """The weakest of (value / threshold) over conditions of the form value >= threshold."""
    return min((v / t if t > 0 else math.inf) if v > 0 else 0.0 for v, t in pairs)


# -- diverging ----------------------------------------------------------------------------------------------
_BLOWUP_CONFIDENCE = {"above_limit": 0.95, "grew": 0.9, "spike": 0.8, "first_epoch_spike": 0.5, "jumped": 0.7}


def diverging(x: Context) -> Finding | None:
    c, th = x.c, x.th
    stop = c.hist.stop_reason
    stopped = bool(getattr(stop, "nonfinite", False))
    d = signals.find_divergence(c.train, c.val, c.iters, loss_abs=th.diverge_loss_abs, factor=th.diverge_factor,
                                spike=th.diverge_spike, unrecovered=th.diverge_unrecovered, jump=th.diverge_jump)
    if d is None and not stopped:
        return None
    ev: dict[str, float] = {}
    stop_text = f"; the run stopped: {stop}" if stop else ""
    if d is None or d.nonfinite:
        epoch = d.epoch if d is not None else (getattr(stop, "epoch", None) or c.n)
        ev["first_nonfinite_epoch"] = epoch
        if d is not None and d.iteration is not None:
            ev["first_nonfinite_iteration"] = d.iteration
        finite = c.train[signals.is_ok(c.train)]
        if finite.size:
            ev["last_finite_train_loss"] = c.raw(finite[-1])
        ev.update(c.lr_evidence())
        text = d.text + stop_text if d is not None else f"the run stopped: {stop}"
        return x.finding("diverging", ev, epoch - 1, text, 1.0)
    ev.update(first_loss=c.raw(c.first), min_train_loss=c.raw(c.train.min()), last_train_loss=c.raw(c.train[-1]),
              max_loss=c.raw(max(float(s.max()) for s in (c.train, c.val, c.iters) if s.size)), blowup_epoch=d.epoch)
    text = d.text
    if c.shift:  # the shared text quotes shifted numbers: say it in the recorded ones
        ev["loss_shift"] = c.shift
        text = (f"the loss rose from {ev['min_train_loss']:.4g} (its lowest) to {ev['max_loss']:.4g}, ending at "
                f"{ev['last_train_loss']:.4g}, above where it started (a loss that can be negative: judged by "
                "how far it rose against its whole range)")
    ev.update(c.lr_evidence())
    return x.finding("diverging", ev, d.epoch - 1, text + "; every loss stayed finite" + stop_text,
                     _BLOWUP_CONFIDENCE.get(d.kind, 0.8), nonfinite=False)


# -- gradients ----------------------------------------------------------------------------------------------
def gradients(x: Context) -> list[Finding]:
    c, th = x.c, x.th
    out: list[Finding] = []
    g = c.grad
    layers = _layer_ratio(c.hist)
    if g.size:
        bad = signals.first_nonfinite(g)
        growth = _growth(g) if bad is None else None
        if bad is not None:
            out.append(x.finding("exploding_gradients", {"first_nonfinite_grad_epoch": bad + 1}, bad,
                                 f"the gradient norm became NaN/Inf in epoch {bad + 1}", 1.0))
        elif growth is not None and growth[0] >= th.explode_growth:
            ev = {"growth": growth[0], "max_grad_norm": float(g[growth[1]]), "jump_epoch": growth[1] + 1}
            out.append(x.finding("exploding_gradients", ev, growth[1],
                                 f"the gradient norm jumped to {growth[0]:.4g}x its earlier level in epoch "
                                 f"{growth[1] + 1}", confidence(growth[0] / th.explode_growth)))
    if layers is not None and not out and layers[0] > th.explode_layer_ratio:
        out.append(x.finding("exploding_gradients", {"first_over_last_layer": layers[0]}, None,
                             f"the first layer's gradient is {layers[0]:.4g}x the last layer's",
                             confidence(layers[0] / th.explode_layer_ratio)))
    if not (c.finite and c.initial > 0 and c.train[-1] >= th.underfit_ratio * c.initial):
        return out
    ratio = float(c.train[-1] / c.initial)
    if not _output_still_learns(c.hist, g, th.vanish_output_kept):
        return out  # every gradient died together: collapsed weights (e.g. heavy weight decay), not depth
    if layers is not None and layers[0] < th.vanish_layer_ratio and layers[1] < th.vanish_first_layer:
        ev = {"first_over_last_layer": layers[0], "first_layer_grad_norm": layers[1], "last_over_initial": ratio}
        margin = _margin([(th.vanish_layer_ratio, layers[0]), (th.vanish_first_layer, layers[1])])
        out.append(x.finding("vanishing_gradients", ev, None,
                             f"the first layer gets {layers[0]:.4g}x the last layer's gradient and the loss is "
                             f"still {ratio:.0%} of its start", confidence(margin)))
    elif g.size and bool(signals.is_ok(g).all()) and float(np.median(g)) < th.vanish_abs:
        ev = {"median_grad_norm": float(np.median(g)), "last_over_initial": ratio}
        out.append(x.finding("vanishing_gradients", ev, None,
                             f"the gradient norm is {ev['median_grad_norm']:.4g} while the loss is still "
                             f"{ratio:.0%} of its start", confidence(th.vanish_abs / max(ev["median_grad_norm"],
                                                                                            1e-300))))
    return out


# -- oscillation --------------------------------------------------------------------------------------------
def oscillation(x: Context) -> Finding | None:
    c, th = x.c, x.th
    if not c.finite or c.n < max(th.min_epochs, 4):
        return None
    log = c.log_train()
    progress = float(math.log(c.initial) - log.min())
    if progress <= 0:
        return None
    climb = c.climb()
    # rises count against the progress made, or against what a run that learns makes (down to
    # underfit_ratio of its start), whichever is larger: a run that barely learned does not bounce
    rel = climb / max(progress, -math.log(th.underfit_ratio))
    start = c.end_slope().first
    se = c.iteration_noise(start)
    steps = np.diff(log)
    tail = steps[start:]
    ev = {"climb": climb, "climb_over_progress": rel}
    margin = rel / th.osc_climb
    if se is not None and se > 0 and tail.size >= 2:
        jitter = float(np.std(tail) / (math.sqrt(2) * se))
        ev["epoch_jitter_over_noise"] = jitter
        margin = math.sqrt(margin * jitter / th.osc_noise)  # both count: rises that give back progress, moves
        #                                                       beyond what minibatch noise explains
    rises = int((steps[1:] > 0).sum())
    x.near["oscillation"] = margin
    if margin < 1 or rises < 2:
        return None
    ev.update(rising_epochs=rises, largest_rise=float(math.expm1(steps[1:].max())))
    ev.update(c.lr_evidence())
    noise = (f"; epoch to epoch it moves {ev['epoch_jitter_over_noise']:.1f}x what its minibatch noise explains"
             if "epoch_jitter_over_noise" in ev else "")
    return x.finding("oscillation", ev, None, f"the training loss rose in {rises} of {c.n - 2} epochs after the "
                                              f"first, giving back {rel:.0%} of its progress{noise}",
                     confidence(margin))


# -- overfitting --------------------------------------------------------------------------------------------
def overfitting(x: Context) -> Finding | None:
    c, th = x.c, x.th
    if not c.finite or not c.has_val or c.n < max(th.min_epochs, 4) or (c.val <= 0).any():
        return None
    val = _median3(c.val)
    best = int(np.argmin(val))
    if best >= c.n - 2:
        return None
    tail = float(np.mean(val[-3:]))
    rise = tail / float(val[best]) - 1
    noise = float(np.median(np.abs(np.diff(np.log(c.val), 2)))) / 2  # epoch-to-epoch jitter, trend removed
    slack = c.train[best] * (1 + th.overfit_train_slack) / c.train[-1]
    margin = _margin([(rise, th.overfit_rise), (math.log1p(max(rise, 0)), th.overfit_noise * noise), (slack, 1)])
    if margin < 1:
        return _memorising(x)
    lo = max(0, best - 1)  # the smoothed curve finds the turn; the raw curve pins the best epoch next to it
    best = lo + int(np.argmin(c.val[lo:best + 2]))
    ev = {"onset_epoch": best + 1, "best_val_loss": c.raw(c.val[best]), "last_val_loss": c.raw(c.val[-1]),
          "val_rise": rise, "val_noise": noise, "train_change_since_onset": float(c.train[-1] / c.train[best] - 1)}
    if c.train[-1] > 0 and not c.shift:
        ev["val_over_train"] = float(c.val[-1] / c.train[-1])
    trend = "falling" if ev["train_change_since_onset"] < 0 else "level"
    return x.finding("overfitting", ev, best, f"from epoch {best + 1} the validation loss rose {rise:.0%} above its "
                                              f"minimum while the training loss kept {trend}", confidence(margin))


def _memorising(x: Context) -> Finding | None:
    """Overfitting without a clean turn: training fell by orders of magnitude while validation barely moved."""
    c, th = x.c, x.th
    tail_val, tail_train = float(np.mean(c.val[-3:])), float(np.mean(c.train[-3:]))
    if tail_train <= 0 or c.train[0] <= 0 or c.val[0] <= 0:
        return None
    gap, drop, stall = tail_val / tail_train, tail_train / float(c.train[0]), tail_val / float(c.val[0])
    margin = _margin([(gap, th.overfit_gap), (th.overfit_train_drop, drop), (stall, th.overfit_val_stall)])
    if margin < 1:
        return None
    best = int(np.argmin(_median3(c.val)))
    ev = {"onset_epoch": best + 1, "best_val_loss": c.raw(c.val[best]), "last_val_loss": c.raw(c.val[-1]),
          "val_over_train": gap, "train_last_over_first": drop, "val_last_over_first": stall}
    return x.finding("overfitting", ev, best, f"the training loss fell to {drop:.1%} of its start while the "
                                              f"validation loss stayed at {stall:.0%} of its start: validation is "
                                              f"{gap:.0f}x training (a generalisation gap from epoch {best + 1})",
                     confidence(margin))


# -- slow convergence, underfitting, plateau ----------------------------------------------------------------
def slow(x: Context) -> Finding | None:
    c, th = x.c, x.th
    if not c.finite or c.n < max(th.min_epochs, 6):
        return None
    s = c.end_slope()
    log = c.log_train()
    total, recent = float(math.log(c.initial) - log[-1]), float(log[s.first] - log[-1])
    if total <= 0 or recent <= 0:
        return None
    fall = s.fall_if_run_again()
    left = float(c.train[-1] / c.initial)
    # far from converged: a large share of the progress came late, or the loss is still high, unless the
    # model shows spare capacity (then a high loss is the data's noise floor, not distance to go)
    high = left / th.underfit_ratio if c.spare_capacity(th.floor_fitting_t) < th.floor_gap else 0.0
    late = recent / total / th.slow_recent_fraction
    # clearly falling (t), at a pace that matters (a material fall ahead at a steady pace, or a large share
    # of the progress coming late, as on a straight line at a tiny learning rate), and far from done
    steady = min(fall / th.slow_min_rate, s.t / th.slow_steady)
    margin = _margin([(s.t, th.slow_t), (max(steady, late), 1.0), (max(late, high), 1.0)])
    x.near["slow_convergence"] = margin
    if margin < 1 or (c.has_val and not c.val[-1] < c.val[s.first]):
        return None
    ev = {"fall_per_epoch_at_end": s.fall_per_epoch(), "end_slope_t": s.t, "fall_if_run_again": fall,
          "recent_fraction_of_progress": recent / total, "last_over_initial": left, "window_start_epoch": s.first + 1}
    ev.update(c.lr_evidence())
    return x.finding("slow_convergence", ev, None,
                     f"the loss still falls {ev['fall_per_epoch_at_end']:.1%} per epoch over epochs "
                     f"{s.first + 1}-{c.n} ({s.t:.0f}x the noise of that stretch) and would lose {fall:.0%} more if "
                     "trained as long again: it has not converged", confidence(margin))


def underfit_and_plateau(x: Context) -> list[Finding]:
    c, th = x.c, x.th
    if not c.finite or c.n < max(th.min_epochs, 2) or c.initial <= 0:
        return []
    progress = float(1 - c.train.min() / c.initial)
    ratio = float(c.train[-1] / c.initial)
    ev = {"initial_loss": c.raw(c.initial), "last_train_loss": c.raw(c.train[-1]), "last_over_initial": ratio}
    if c.has_val:
        ev["last_val_loss"] = c.raw(c.val[-1])
    gap, spare = c.gap(), c.spare_capacity(th.floor_fitting_t)
    out = []
    x.near["underfitting"] = ratio / th.underfit_ratio
    if ratio >= th.underfit_ratio:
        if gap is not None:
            ev.update(val_over_train=math.exp(gap[0]), gap_growth=gap[1], spare_capacity=spare)
        if spare >= th.floor_gap:
            x.floor_note = (f"the loss settled at {ratio:.0%} of its start, but the training loss pulls away from the "
                            f"validation loss as it trains (their log gap grew by {gap[1]:.2f} over the second "
                            "half): the model has capacity to spare and starts to fit noise, so what is left is "
                            "most likely the data's noise floor")
            x.near["underfitting"] = th.floor_gap / spare
            x.floor_evidence = ev
        else:
            level = (f"validation moves with it ({math.expm1(gap[0]):+.0%} apart, a gap that is not opening)"
                     if gap is not None else "no validation loss was recorded")
            # the curves cannot tell a too-small model from noisy data: the confidence says so
            conf = min(confidence(ratio / th.underfit_ratio), 0.75 if gap is not None else 0.6)
            out.append(x.finding("underfitting", ev, None,
                                 f"training settled at {ratio:.0%} of the initial loss and {level}: the model fits "
                                 "little, or the data's noise allows no lower loss (the curves alone cannot tell "
                                 "which; a bigger model can)", conf))
    w = th.plateau_window
    moved = abs(float(np.log(c.train[-1] / c.train[-w]))) if c.n >= w and c.train[-w] > 0 else math.inf
    if progress < th.plateau_max_progress and moved < th.plateau_tol:
        pev = {**ev, "best_progress": progress, f"change_last_{w}_epochs": moved}
        margin = _margin([(th.plateau_max_progress, max(progress, 1e-12)), (th.plateau_tol, max(moved, 1e-12))])
        out.append(x.finding("plateau", pev, 0, f"the loss never fell more than {max(progress, 0):.0%} below its "
                                               f"start and moved {moved:.1%} in the last {w} epochs",
                             confidence(margin)))
    return out


def healthy(x: Context) -> Finding:
    c, th = x.c, x.th
    ev = {"epochs": float(c.n), "last_train_loss": c.raw(c.train[-1])}
    best = signals.best_epoch(c.train, c.val)
    if best is not None:
        ev["best_epoch"] = best.index + 1
    if c.has_val and math.isfinite(c.val[-1]):
        ev["last_val_loss"] = c.raw(c.val[-1])
    if c.initial > 0 and math.isfinite(c.train[-1]):
        ev["last_over_initial"] = float(c.train[-1] / c.initial)
    ev.update({k: v for k, v in x.floor_evidence.items() if k in ("val_over_train", "gap_growth", "spare_capacity")})
    near = max(x.near.values(), default=0.0)
    conf = 0.5 + 0.45 * math.tanh(-math.log(near)) if near > 0 else 0.95
    if c.n < th.min_epochs:
        summary, conf = "finite so far; too few epochs to judge trends", 0.3
    elif x.floor_note:
        summary = x.floor_note
    elif c.has_val:
        summary = "the loss fell and settled, and the validation loss follows it"
    else:
        summary, conf = "the loss fell and settled (no validation loss recorded: overfitting cannot be judged)", \
            min(conf, 0.7)
    return x.finding("healthy", ev, None, summary, conf)


# -- helpers ------------------------------------------------------------------------------------------------
def _layer_ratio(hist: TrainingHistory) -> tuple[float, float] | None:
    """(first/last layer gradient norm, first layer norm), medians over epochs, weights only when named."""
    items = [(k, signals.as_float_array(v)) for k, v in hist.layer_grad_norm.items() if len(v)]
    weights = [(k, v) for k, v in items if "bias" not in k.lower()]
    items = weights if len(weights) >= 2 else items
    if len(items) < 2:
        return None
    first, last = items[0][1], items[-1][1]
    if not (signals.is_ok(first).all() and signals.is_ok(last).all()):
        return None
    f, l_ = float(np.median(first)), float(np.median(last))
    return (f / l_, f) if l_ > 0 else None  # a last layer with no gradient at all: the ratio says nothing


def _output_still_learns(hist: TrainingHistory, grad: np.ndarray, kept: float) -> bool:
    """Whether the gradient at the output (the last weight layer's, else the total) is still at least ``kept``
    of its first epoch's over the last third of the run (median): vanishing gradients fade with depth while
    the output layer keeps learning; when the output's gradient collapses too, the whole network went quiet.
    True when no gradient was recorded."""
    items = [signals.as_float_array(v) for k, v in hist.layer_grad_norm.items() if len(v) and "bias" not in k.lower()]
    series = items[-1] if items else grad
    if series.size < 2 or not bool(signals.is_ok(series).all()) or series[0] <= 0:
        return True
    tail = series[len(series) - max(1, len(series) // 3):]
    return float(np.median(tail)) >= kept * float(series[0])


def _growth(g: np.ndarray) -> tuple[float, int] | None:
    """Largest ratio of an epoch's gradient norm to the median of the epochs before it, and that epoch."""
    best, seen = None, [float(g[0])]  # kept sorted, so each running median is a lookup
    for i in range(1, len(g)):
        m = len(seen)
        prior = seen[m // 2] if m % 2 else (seen[m // 2 - 1] + seen[m // 2]) / 2
        if prior > 0 and (best is None or g[i] / prior > best[0]):
            best = (float(g[i] / prior), i)
        bisect.insort(seen, float(g[i]))
    return best


def _median3(x: np.ndarray) -> np.ndarray:
    """Centered 3-point running median: one noisy validation epoch neither makes nor hides a trend."""
    if x.size < 3:
        return x.copy()
    padded = np.concatenate([x[:1], x, x[-1:]])
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
