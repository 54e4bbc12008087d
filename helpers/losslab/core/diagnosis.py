"""Name what a loss curve shows: diverging, oscillating, too slow, overfitting, underfitting, or healthy.

`identify_training_issues` reads a training record (or a plain dict of lists) and returns a `Diagnosis`:
a list of `Finding` objects, most severe first, each with the numbers it rests on, a paragraph on what it
means and the fixes to try. Every rule reads curves only (loss, optionally gradient norm and learning rate),
so it works on records from either framework, from Keras ``History.history`` or from another tool.
The thresholds live in `Thresholds`, documented with their source; the accuracy of the rules is measured on
real labelled runs by ``benchmarks/diagnosis/evaluate.py``.
"""
from __future__ import annotations

import bisect
import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .history import TrainingHistory, as_history

_NON_FINITE = re.compile(r"\b(nan|inf|infinity|non-finite|diverg\w*)\b", re.IGNORECASE)

#: Every label a finding can carry, most severe first (this order sorts `Diagnosis.findings`).
LABELS = ("diverging", "exploding_gradients", "vanishing_gradients", "overfitting", "oscillation",
          "slow_convergence", "underfitting", "plateau", "healthy")


@dataclass(frozen=True)
class Thresholds:
    """The numbers behind every rule, with where each comes from.

    Losses are compared as ratios (log scale), never in absolute units, so one set of thresholds serves MSE
    on any target scale and cross-entropy alike. Published detectors read accuracy or per-layer tensors;
    where we adapt one of their rules to loss curves we say how. "Ours" marks a number we chose and checked
    on the labelled runs of ``benchmarks/diagnosis`` (tuned on the PyTorch runs; the TensorFlow runs are
    reported as held out). "Start" is the loss before any update: the first per-iteration loss when
    ``iter_loss`` is recorded, else the first epoch's mean.

    Diverging. Any NaN/Inf loss is divergence: AUTOTRAINER (Zhang et al., ICSE 2021, ``nan_loss``),
    DeepDiagnosis (Wardat et al., ICSE 2022, "invalid loss") and UMLAUT (Schoop et al., CHI 2021,
    ``NaNInLossError``) all use this rule. For finite runs:

    - ``diverge_loss_abs`` = 1e5: AUTOTRAINER calls a run exploded when the validation loss reaches 1e5;
      we apply it to any recorded loss.
    - ``diverge_factor`` = 3: ours. The last training loss is above the start and at least 3x its lowest
      value: the run learned, then blew up.
    - ``diverge_spike`` = 10 and ``diverge_unrecovered`` = 0.5: ours. The loss shot above 10x the start
      and the run ends above half the start: one huge step threw the weights somewhere it never recovered
      from (typically dead ReLUs after a too-large first step). Without per-iteration losses the spike
      hides inside the first epoch's mean: a first epoch 10x above every later one, with the last loss still
      above half of epoch 1's, is read the same way. That reading is ambiguous: a run that reached its noise
      floor within epoch 1 (y = 2x + 1 at lr 0.2: 4.1, then 0.29) looks the same. Requiring 100x instead
      cost 8 of 29 diverged runs in the labelled set (called healthy), so we keep 10x and say so in the text.

    Gradients (only when ``grad_norm`` or ``layer_grad_norm`` is recorded):

    - ``explode_growth`` = 100: ours. Some epoch's mean gradient norm is 100x the median of the epochs
      before it (gradients that only shrink, as on a memorised training set, never count).
    - ``explode_layer_ratio`` = 70: AUTOTRAINER ``beta_3``, first-layer over last-layer gradient norm.
    - ``vanish_layer_ratio`` = 1e-3 and ``vanish_first_layer`` = 1e-4: AUTOTRAINER ``beta_1`` and
      ``beta_2``; the first layer gets under 1e-3 of the last layer's gradient and under 1e-4 in norm.
    - ``vanish_abs`` = 1e-5: ours, after DeepDiagnosis (mean absolute gradient < 1e-7): a total gradient
      norm below 1e-5. Both vanishing rules also need the loss to be high (``underfit_ratio``): a model
      at a perfect fit has small gradients too.

    Oscillation (AUTOTRAINER's ``unstable_loss`` moved from accuracy to the log of the loss):

    - ``osc_rise`` = 0.10: AUTOTRAINER counts accuracy swings of ``zeta`` = 0.03; on a loss we count
      epochs whose training loss rose more than 10 % over the previous epoch (ours: smaller rises are
      routine minibatch noise on our runs).
    - ``osc_fraction`` = 0.1: AUTOTRAINER's ``eta`` is 0.2 of the epochs; ours is 0.1 (and at least two
      rises), because a per-epoch mean already averages many steps and hides half of the swings.

    Overfitting (UMLAUT: "validation loss increasing while training loss is stuck or decreasing";
    AUTOTRAINER's ``test_turn_bad``: training loss falls while validation loss rises):

    - ``overfit_rise`` = 0.10: ours. The last three epochs of the 3-epoch-median validation loss average at
      least 10 % above its minimum, ...
    - ``overfit_noise`` = 5: ... and that rise (in log) is at least 5x the validation loss' epoch-to-epoch
      jitter (half the median absolute second difference of its log, so a steady trend is not jitter).
      Ours: a noisy curve does not make a trend; on the PyTorch runs real overfitting rose 37x its jitter
      or more, noisy high-learning-rate runs at most 2.5x. ...
    - ``overfit_train_slack`` = 0.05: ... while the last training loss is at most 5 % above its value at
      the validation minimum. The onset is the epoch of the validation minimum (the best raw epoch next to
      the minimum of the 3-epoch median).
    - Memorising without a clean turn (the seed assignment's "large generalisation gap"): the last three
      epochs' validation loss is at least ``overfit_gap`` = 10x the training loss, the training loss fell to
      at most ``overfit_train_drop`` = 10 % of its first epoch, and validation stayed at least
      ``overfit_val_stall`` = 70 % of its first epoch. Ours: a big network on 30 noisy samples (train
      100x down, validation flat and jittery) passes no rise-vs-jitter test but is overfitting all the same.

    Slow convergence, learning rate too low (ours: DeepDiagnosis' "loss not decreasing" and AUTOTRAINER's
    ``sc_accuracy`` flag too little progress per window, which cannot tell "too slow" from "converged"):

    - ``slow_recent_fraction`` = 0.25: the last third of the epochs brought at least a quarter of the whole
      log-loss decrease (a converging curve brings far less: its decrease shrinks geometrically), ...
    - ``slow_steady`` = 0.7: ... the training loss fell in at least 70 % of those epochs, ...
    - ``slow_min_recent_drop`` = 0.002: ... by at least 0.2 % in all, and the validation loss fell too.

    Underfitting and plateau:

    - ``underfit_ratio`` = 0.3: ours. Training settled (not slow) with the last training loss at least 30 %
      of the start: the model fits little of what it could.
    - ``plateau_window`` = 5: DeepDiagnosis' window N = 5 for "loss not decreasing".
    - ``plateau_max_progress`` = 0.05 and ``plateau_tol`` = 0.01: ours. The loss never fell 5 % below the
      start and moved under 1 % over the last window: training never started.

    ``min_epochs`` = 4: ours. Trend rules need at least 4 epochs; shorter runs are checked for non-finite
    values, blow-ups and gradients only.
    """

    diverge_loss_abs: float = 1e5
    diverge_factor: float = 3.0
    diverge_spike: float = 10.0
    diverge_unrecovered: float = 0.5
    explode_growth: float = 100.0
    explode_layer_ratio: float = 70.0
    vanish_layer_ratio: float = 1e-3
    vanish_first_layer: float = 1e-4
    vanish_abs: float = 1e-5
    osc_rise: float = 0.10
    osc_fraction: float = 0.1
    overfit_rise: float = 0.10
    overfit_noise: float = 5.0
    overfit_train_slack: float = 0.05
    overfit_gap: float = 10.0
    overfit_train_drop: float = 0.1
    overfit_val_stall: float = 0.7
    slow_recent_fraction: float = 0.25
    slow_steady: float = 0.7
    slow_min_recent_drop: float = 0.002
    underfit_ratio: float = 0.3
    plateau_window: int = 5
    plateau_max_progress: float = 0.05
    plateau_tol: float = 0.01
    min_epochs: int = 4


@dataclass
class Finding:
    """One thing the curves show: a label, the numbers behind it, what it means and what to try.

    ``epoch`` is a 0-based index into the record (``history.val_loss[finding.epoch]``); text and evidence
    count epochs from 1, as the plots and Keras' log do.
    """

    label: str
    evidence: dict[str, float]
    explanation: str
    fixes: list[str]
    epoch: int | None = None
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "epoch": self.epoch, "summary": self.summary,
                "evidence": dict(self.evidence), "explanation": self.explanation, "fixes": list(self.fixes)}

    def __str__(self) -> str:
        numbers = ", ".join(f"{k}={_fmt(v)}" for k, v in self.evidence.items())
        lines = [f"- {self.label.replace('_', ' ')}: {self.summary}", f"    evidence: {numbers}",
                 f"    why: {self.explanation}"]
        lines += [f"    try: {fix}" for fix in self.fixes]
        return "\n".join(lines)


@dataclass
class Diagnosis:
    """The findings on one run, most severe first; ``healthy`` when nothing is wrong."""

    findings: list[Finding] = field(default_factory=list)
    epochs: int = 0

    @property
    def labels(self) -> list[str]:
        return [f.label for f in self.findings]

    @property
    def primary(self) -> str:
        return self.findings[0].label if self.findings else "healthy"

    @property
    def healthy(self) -> bool:
        return self.primary == "healthy"

    def __contains__(self, label: object) -> bool:
        return label in self.labels

    def __getitem__(self, label: str) -> Finding:
        for finding in self.findings:
            if finding.label == label:
                return finding
        raise KeyError(f"no {label!r} finding; found: {', '.join(self.labels)}")

    def to_dict(self) -> dict[str, Any]:
        return {"primary": self.primary, "labels": self.labels, "healthy": self.healthy,
                "epochs": self.epochs, "findings": [f.to_dict() for f in self.findings]}

    def __str__(self) -> str:
        heads = []
        for f in self.findings:
            name = f.label.replace("_", " ")
            heads.append(f"{name} (from epoch {f.epoch + 1})" if f.epoch is not None else name)
        return f"{', '.join(heads)} [{self.epochs} epochs]\n" + "\n".join(str(f) for f in self.findings)

    def __repr__(self) -> str:
        return f"Diagnosis({self.labels}, epochs={self.epochs})"


def identify_training_issues(history: TrainingHistory | Mapping[str, Any], **overrides: Any) -> Diagnosis:
    """Diagnose a training run from its curves.

    ``history`` is a `TrainingHistory`, a Keras ``History`` or a dict of lists (``train_loss``, optional
    ``val_loss``, ``grad_norm``, ``lr``, ``iter_loss``). ``overrides`` replace fields of `Thresholds`,
    e.g. ``identify_training_issues(h, overfit_rise=0.2)``. Never raises on NaN, Inf, constant or
    one-epoch curves; raises ValueError/TypeError only for empty or non-numeric input (via `as_history`).
    """
    hist = as_history(history)
    th = _thresholds(overrides)
    run = _Run(hist)
    findings = [f for rule in _RULES if (f := rule(run, th)) is not None] + _gradients(run, th)
    if "slow_convergence" not in (f.label for f in findings):  # still falling: not settled, not stuck
        findings += _underfit_and_plateau(run, th)
    if not findings:
        findings = [_healthy(run, th)]
    findings.sort(key=lambda f: LABELS.index(f.label))
    return Diagnosis(findings=findings, epochs=run.n)


# -- the run, prepared once ---------------------------------------------------------------------------
class _Run:
    """Numpy views of a record plus the few derived numbers several rules share."""

    def __init__(self, hist: TrainingHistory):
        self.hist = hist
        self.train = np.asarray(hist.train_loss, dtype=float)
        self.val = np.asarray(hist.val_loss, dtype=float)
        self.grad = np.asarray(hist.grad_norm, dtype=float)
        self.iters = np.asarray(hist.iter_loss, dtype=float)
        self.n = len(self.train)
        self.finite = bool(np.isfinite(self.train).all() and np.isfinite(self.val).all()
                           and np.isfinite(self.iters).all())
        it0 = float(self.iters[0]) if self.iters.size and np.isfinite(self.iters[0]) else math.nan
        #: the loss before any update (first iteration) and a robust start level for ratios: one batch is
        #: noisy, so the larger of it and the first epoch's mean (which is lower only if training went fast)
        self.first = it0 if it0 > 0 else float(self.train[0])
        self.initial = max(self.first, float(self.train[0])) if math.isfinite(self.train[0]) else self.first
        self.has_val = self.val.size == self.n and self.n > 0

    def log_train(self) -> np.ndarray:
        return np.log(np.maximum(self.train, 1e-300))

    def lr_evidence(self) -> dict[str, float]:
        lr = [v for v in self.hist.lr if math.isfinite(v)]
        return {"lr": lr[-1]} if lr else {}


# -- rules: each returns a Finding or None ----------------------------------------------------------
def _diverging(run: _Run, th: Thresholds) -> Finding | None:
    ev: dict[str, float] = {}
    bad = [i for i, v in enumerate(run.train) if not math.isfinite(v)]
    bad_val = [i for i, v in enumerate(run.val) if not math.isfinite(v)]
    stopped_nonfinite = bool(_NON_FINITE.search(run.hist.stop_reason or ""))
    if run.iters.size and not np.isfinite(run.iters).all():
        per = run.hist.iters_per_epoch or 1.0
        bad_iter = int(np.argmin(np.isfinite(run.iters)))
        ev["first_nonfinite_iteration"] = float(bad_iter)
        bad.append(min(run.n - 1, int(bad_iter / per)))
    finite = run.train[np.isfinite(run.train)]
    if bad or bad_val or stopped_nonfinite:
        epoch = min(bad + bad_val) if (bad or bad_val) else run.n - 1
        ev["first_nonfinite_epoch"] = float(epoch + 1)
        if finite.size:
            ev["last_finite_train_loss"] = float(finite[-1])
        summary = f"the loss became NaN/Inf in epoch {epoch + 1}" + (f"; the run stopped: {run.hist.stop_reason}"
                                                                 if run.hist.stop_reason else "")
        ev.update(run.lr_evidence())
        return Finding("diverging", ev, _TEXT["diverging"], list(_FIXES["diverging"]), epoch, summary)
    vals = np.concatenate([run.train, run.val, run.iters])
    low, last, peak = float(run.train.min()), float(run.train[-1]), float(vals.max())
    ev.update(first_loss=run.first, min_train_loss=low, last_train_loss=last, max_loss=peak)
    if peak >= th.diverge_loss_abs:
        summary = f"the loss reached {_fmt(peak)}, beyond {_fmt(th.diverge_loss_abs)}"
    elif last > run.first and low > 0 and last / low >= th.diverge_factor:
        summary = f"the training loss grew from {_fmt(low)} to {_fmt(last)}, above where it started"
    elif run.first > 0 and peak >= th.diverge_spike * run.first and last >= th.diverge_unrecovered * run.first:
        summary = (f"the loss shot up to {_fmt(peak / run.first)}x its starting value and never recovered "
                   f"(it ends at {last / run.first:.0%} of the start)")
    elif (run.n >= 3 and run.train[1:].min() > 0 and run.train[0] >= th.diverge_spike * run.train[1:].max()
          and last >= th.diverge_unrecovered * run.train[1]):
        summary = (f"the first epoch's mean loss ({_fmt(run.train[0])}) is {_fmt(run.train[0] / run.train[1])}x "
                   "the next one's and the loss barely improved after it: the first steps blew up (a run that "
                   "converged within its first epoch looks the same in epoch means: record per-iteration "
                   "losses to tell the two apart)")
    else:
        return None
    ev.update(run.lr_evidence())
    return _finding("diverging", ev, int(np.argmax(run.train)), summary)


def _gradients(run: _Run, th: Thresholds) -> list[Finding]:
    out: list[Finding] = []
    g = run.grad
    layers = _layer_ratio(run.hist)
    if g.size:
        growth = _growth(g)
        if not np.isfinite(g).all():
            ev = {"first_nonfinite_grad_epoch": float(np.argmin(np.isfinite(g)))}
            out.append(_finding("exploding_gradients", ev, int(ev["first_nonfinite_grad_epoch"]),
                                "the gradient norm became NaN/Inf"))
        elif growth is not None and growth[0] >= th.explode_growth:
            ev = {"growth": growth[0], "max_grad_norm": float(g[growth[1]])}
            out.append(_finding("exploding_gradients", ev, growth[1],
                                f"the gradient norm jumped to {_fmt(growth[0])}x its earlier level"))
    if layers is not None and not out and layers[0] > th.explode_layer_ratio:
        out.append(_finding("exploding_gradients", {"first_over_last_layer": layers[0]}, None,
                            f"the first layer's gradient is {_fmt(layers[0])}x the last layer's"))
    if not (run.finite and run.initial > 0 and run.train[-1] >= th.underfit_ratio * run.initial):
        return out
    ratio = float(run.train[-1] / run.initial)
    if layers is not None and layers[0] < th.vanish_layer_ratio and layers[1] < th.vanish_first_layer:
        ev = {"first_over_last_layer": layers[0], "first_layer_grad_norm": layers[1], "last_over_initial": ratio}
        out.append(_finding("vanishing_gradients", ev, None,
                            f"the first layer gets {_fmt(layers[0])}x the last layer's gradient "
                            f"and the loss is still {ratio:.0%} of its start"))
    elif g.size and np.isfinite(g).all() and float(np.median(g)) < th.vanish_abs:
        ev = {"median_grad_norm": float(np.median(g)), "last_over_initial": ratio}
        out.append(_finding("vanishing_gradients", ev, None,
                            f"the gradient norm is {_fmt(ev['median_grad_norm'])} while the loss is still "
                            f"{ratio:.0%} of its start"))
    return out


def _oscillation(run: _Run, th: Thresholds) -> Finding | None:
    if not run.finite or run.n < th.min_epochs:
        return None
    steps = np.diff(run.log_train())
    rises = int((steps > math.log1p(th.osc_rise)).sum())
    frac = rises / len(steps)
    if rises < 2 or frac < th.osc_fraction:
        return None
    ev = {"rising_epochs": float(rises), "rising_fraction": frac,
          "largest_rise": float(math.expm1(steps.max()))}
    ev.update(run.lr_evidence())
    return _finding("oscillation", ev, None,
                    f"the training loss rose by more than {th.osc_rise:.0%} in {rises} of {len(steps)} epochs")


def _overfitting(run: _Run, th: Thresholds) -> Finding | None:
    if not run.finite or not run.has_val or run.n < th.min_epochs or (run.val <= 0).any():
        return None
    val = _median3(run.val)
    best = int(np.argmin(val))
    tail = float(np.mean(val[-3:]))
    if best >= run.n - 2:
        return None
    rise = tail / float(val[best]) - 1
    noise = float(np.median(np.abs(np.diff(np.log(run.val), 2)))) / 2  # epoch-to-epoch jitter, trend removed
    train_ok = run.train[-1] <= run.train[best] * (1 + th.overfit_train_slack)
    if rise < th.overfit_rise or math.log1p(rise) < th.overfit_noise * noise or not train_ok:
        return _memorising(run, th, val)
    lo = max(0, best - 1)  # the smoothed curve finds the turn; the raw curve pins the best epoch next to it
    best = lo + int(np.argmin(run.val[lo:best + 2]))
    ev = {"onset_epoch": float(best + 1), "best_val_loss": float(run.val[best]), "last_val_loss": float(run.val[-1]),
          "val_rise": rise, "val_noise": noise, "train_change_since_onset": float(run.train[-1] / run.train[best] - 1)}
    if run.train[-1] > 0:
        ev["val_over_train"] = float(run.val[-1] / run.train[-1])
    trend = "falling" if ev["train_change_since_onset"] < 0 else "level"
    return _finding("overfitting", ev, best, f"from epoch {best + 1} the validation loss rose {rise:.0%} above its "
                                             f"minimum while the training loss kept {trend}")


def _memorising(run: _Run, th: Thresholds, val: np.ndarray) -> Finding | None:
    """Overfitting without a clean turn: training fell by orders of magnitude while validation barely moved."""
    tail_val, tail_train = float(np.mean(run.val[-3:])), float(np.mean(run.train[-3:]))
    if tail_train <= 0 or run.train[0] <= 0:
        return None
    gap, drop, stall = tail_val / tail_train, tail_train / float(run.train[0]), tail_val / float(run.val[0])
    if gap < th.overfit_gap or drop > th.overfit_train_drop or stall < th.overfit_val_stall:
        return None
    best = int(np.argmin(val))
    ev = {"onset_epoch": float(best + 1), "best_val_loss": float(run.val[best]), "last_val_loss": float(run.val[-1]),
          "val_over_train": gap, "train_last_over_first": drop, "val_last_over_first": stall}
    return _finding("overfitting", ev, best, f"the training loss fell to {drop:.1%} of its start while the "
                                             f"validation loss stayed at {stall:.0%} of its start: validation is "
                                             f"{gap:.0f}x training (a generalisation gap from epoch {best + 1})")


def _slow(run: _Run, th: Thresholds) -> Finding | None:
    if not run.finite or run.n < max(th.min_epochs, 6) or (run.train <= 0).any():
        return None
    log = run.log_train()
    k = run.n - 1 - max(2, run.n // 3)
    total, recent = float(log[0] - log[-1]), float(log[k] - log[-1])
    steady = float(np.mean(np.diff(log[k:]) < 0))
    if total <= 0 or recent < th.slow_min_recent_drop or recent / total < th.slow_recent_fraction:
        return None
    if steady < th.slow_steady or (run.has_val and not run.val[-1] < run.val[k]):
        return None
    ev = {"recent_fraction_of_progress": recent / total, "recent_drop": float(-math.expm1(-recent)),
          "total_drop": float(-math.expm1(-total)), "falling_epochs_fraction": steady,
          "window_start_epoch": float(k)}
    ev.update(run.lr_evidence())
    return _finding("slow_convergence", ev, None,
                    f"the loss fell steadily through the last {run.n - 1 - k} epochs "
                    f"({ev['recent_drop']:.1%}, {recent / total:.0%} of all progress): it has not converged")


def _underfit_and_plateau(run: _Run, th: Thresholds) -> list[Finding]:
    if not run.finite or run.n < th.min_epochs or run.initial <= 0:
        return []
    progress = float(1 - run.train.min() / run.initial)
    ratio = float(run.train[-1] / run.initial)
    ev = {"initial_loss": run.initial, "last_train_loss": float(run.train[-1]), "last_over_initial": ratio}
    if run.has_val:
        ev["last_val_loss"] = float(run.val[-1])
    out = []
    if ratio >= th.underfit_ratio:
        out.append(_finding("underfitting", ev, None,
                            f"training settled at {ratio:.0%} of the initial loss: the model fits little"))
    w = th.plateau_window
    moved = abs(float(np.log(run.train[-1] / run.train[-w]))) if run.n >= w and run.train[-w] > 0 else math.inf
    if progress < th.plateau_max_progress and moved < th.plateau_tol:
        ev = {**ev, "best_progress": progress, f"change_last_{w}_epochs": moved}
        out.append(_finding("plateau", ev, 0, f"the loss never fell more than {max(progress, 0):.0%} below its "
                                              f"start and moved {moved:.1%} in the last {w} epochs"))
    return out


def _healthy(run: _Run, th: Thresholds) -> Finding:
    ev = {"epochs": float(run.n), "last_train_loss": float(run.train[-1])}
    if run.hist.best_epoch is not None:
        ev["best_epoch"] = float(run.hist.best_epoch)
    if run.has_val and math.isfinite(run.val[-1]):
        ev["last_val_loss"] = float(run.val[-1])
    if run.initial > 0 and math.isfinite(run.train[-1]):
        ev["last_over_initial"] = float(run.train[-1] / run.initial)
    if run.n < th.min_epochs:
        summary = "finite so far; too few epochs to judge trends"
    elif run.has_val:
        summary = "the loss fell and settled, and the validation loss follows it"
    else:
        summary = "the loss fell and settled (no validation loss recorded: overfitting cannot be judged)"
    return _finding("healthy", ev, None, summary)


_RULES = (_diverging, _oscillation, _overfitting, _slow)


# -- helpers -------------------------------------------------------------------------------------------
def _finding(label: str, ev: dict[str, float], epoch: int | None, summary: str) -> Finding:
    return Finding(label, {k: float(v) for k, v in ev.items()}, _TEXT[label], list(_FIXES[label]), epoch, summary)


def _layer_ratio(hist: TrainingHistory) -> tuple[float, float] | None:
    """(first/last layer gradient norm, first layer norm), medians over epochs, weights only when named."""
    items = [(k, np.asarray(v, dtype=float)) for k, v in hist.layer_grad_norm.items() if len(v)]
    weights = [(k, v) for k, v in items if "bias" not in k.lower()]
    items = weights if len(weights) >= 2 else items
    if len(items) < 2:
        return None
    first, last = items[0][1], items[-1][1]
    if not (np.isfinite(first).all() and np.isfinite(last).all()):
        return None
    f, l_ = float(np.median(first)), float(np.median(last))
    return (f / l_, f) if l_ > 0 else None  # a last layer with no gradient at all: the ratio says nothing


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


def _thresholds(overrides: dict[str, Any]) -> Thresholds:
    names = {f.name for f in dataclasses.fields(Thresholds)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    return dataclasses.replace(Thresholds(), **overrides)


def _fmt(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


_TEXT = {
    "diverging": (
        "The optimizer's steps are so large that each update overshoots the minimum by more than it gained, "
        "so the loss grows instead of shrinking until it overflows to Inf or NaN. The usual cause is a learning "
        "rate far too high for the curvature of the loss; unscaled inputs or targets, a missing normalisation, "
        "or a numerically unsafe loss (log of 0, softmax done by hand) make it worse."),
    "exploding_gradients": (
        "The gradient norm grew by orders of magnitude. Each step is proportional to the gradient, so a few such "
        "steps throw the weights far away; in deep or recurrent networks the gradient is a product of many "
        "layer Jacobians, and factors above 1 compound. It usually precedes or accompanies divergence."),
    "vanishing_gradients": (
        "The gradient reaching the early layers is orders of magnitude smaller than at the output, so those "
        "layers barely change and the network behaves like a shallow model stuck near its initial loss. "
        "Saturating activations (sigmoid, tanh), whose derivative is at most 0.25 or 1, multiplied across many "
        "layers are the classic cause; poor initialisation adds to it."),
    "oscillation": (
        "The training loss keeps rising and falling between epochs instead of settling: the steps are large "
        "enough to bounce across the valley of the loss surface but not so large that they diverge. The learning "
        "rate is too high for this model and batch size, or the batches are so small that their gradients "
        "disagree."),
    "overfitting": (
        "After the onset epoch the model keeps fitting the training set better while it predicts unseen data "
        "worse: it is memorising the particulars (noise) of the training examples rather than the pattern. "
        "The weights at the onset epoch generalise best; everything after it costs validation loss."),
    "slow_convergence": (
        "The loss is still falling steadily at the end, almost as fast as earlier on, so the run stopped long "
        "before it converged. Each step is too small: the learning rate is too low (or the model is far from "
        "a good region and needs many more epochs)."),
    "plateau": (
        "The loss has barely moved since the start: the updates are not changing what the model predicts. "
        "Typical causes are a learning rate so small the steps are invisible, dead or saturated units that pass "
        "no gradient, or a bug that detaches the loss from the parameters."),
    "underfitting": (
        "Training converged, but to a loss not far below where it began, and validation sits at the same level: "
        "the model cannot represent the pattern in the data. It is too small or too constrained (heavy "
        "regularisation), or the features do not carry the information it needs."),
    "healthy": (
        "The loss fell quickly and then levelled off, the validation loss follows the training loss without "
        "turning up, and nothing became non-finite. Train a little longer only if the curve is still sloping."),
}

_FIXES = {
    "diverging": ["lower the learning rate 10x (or run an LR range test and take the suggested LR)",
                  "clip the gradient norm (e.g. clip_grad_norm=1.0)",
                  "normalise inputs and targets; use a numerically stable loss (logits + CrossEntropyLoss)",
                  "add a learning-rate warm-up"],
    "exploding_gradients": ["clip the gradient norm", "lower the learning rate",
                            "use careful initialisation (He/Glorot) and normalisation layers (BatchNorm/LayerNorm)"],
    "vanishing_gradients": ["use ReLU-family activations instead of sigmoid/tanh in hidden layers",
                            "use He/Glorot initialisation", "add BatchNorm or residual connections",
                            "use fewer layers"],
    "oscillation": ["lower the learning rate 2-5x", "use a learning-rate schedule that decays (step, cosine)",
                    "increase the batch size", "use momentum or Adam with a smaller step"],
    "overfitting": ["stop early at the onset epoch (keep the best-validation weights)",
                    "add regularisation: weight decay, dropout", "get more training data or augment it",
                    "use a smaller model"],
    "slow_convergence": ["raise the learning rate 3-10x (an LR range test finds the largest stable one)",
                         "use Adam or SGD with momentum", "train for more epochs"],
    "plateau": ["check that the loss depends on the parameters (optimizer.zero_grad/step, no detach)",
                "raise the learning rate", "replace saturating activations, re-initialise (He/Glorot)"],
    "underfitting": ["use a bigger model (more units or layers) or better features",
                     "reduce regularisation (weight decay, dropout)", "train longer or raise the learning rate"],
    "healthy": ["nothing to fix; early stopping at the best epoch keeps the best weights"],
}
