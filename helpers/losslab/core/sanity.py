"""The checks a careful engineer runs before a long training, framework-free (Karpathy's "A Recipe for Training
Neural Networks", CS231n's "Babysitting the learning process").

A flavor supplies a `Probe`: ``fresh()`` gives a *copy* of the caller's model with a new optimizer (never the
caller's own), and the copy can predict, compute the loss, take a step, and report its gradient norms and
weight matrices. Everything else is here, once for both flavors: which batches are read, what each check
measures, its thresholds, and the `SanityReport` it returns.
"""
from __future__ import annotations

import html
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
#: Loss kinds with a known value at initialisation (the flavor maps the caller's loss to one, or to None).
LOSS_KINDS = ("cross_entropy", "bce_with_logits", "mse")


@dataclass(frozen=True)
class SanityThresholds:
    """Every number the checks compare against, with why (override with ``thresholds=``)."""

    #: The loss at initialisation may be this factor above or below its expected value (a default init
    #: gives near-uniform class scores, so cross-entropy starts within a few percent of ln K).
    init_factor: float = 1.5
    #: For MSE the bound above is wider: a default init's outputs have a variance of their own (Keras'
    #: Glorot init gives about the targets' on standardised data), which adds to the mean of y².
    init_factor_mse: float = 3.0
    #: After ``baseline_steps`` on real inputs, the held-out loss must be at most this fraction of the same
    #: model's trained on zeroed inputs (otherwise the inputs carry nothing the model uses).
    baseline_ratio: float = 0.9
    baseline_steps: int = 60
    #: One small batch must be fitted to this fraction of its starting loss within ``overfit_steps``.
    overfit_ratio: float = 0.05
    overfit_steps: int = 200
    overfit_size: int = 32
    #: CS231n's update-to-weight ratio is about 1e-3 per step; far outside these bounds a layer is flagged.
    ratio_steps: int = 5
    ratio_high: float = 1e-1
    ratio_low: float = 1e-5
    #: Gradient norms at or below ``grad_zero`` are dead; above ``grad_explode`` exploding (clipping
    #: thresholds in practice are 1-10).
    grad_zero: float = 1e-12
    grad_explode: float = 1e3
    #: Inputs with a standard deviation or mean magnitude above this are not normalised.
    input_scale: float = 100.0
    #: Targets in a sampled batch sequence this ordered (fraction of non-decreasing neighbours) are sorted.
    sorted_fraction: float = 0.95
    #: How many batches the data checks read from the start of the loader.
    num_batches: int = 8


@dataclass
class Check:
    """One check's outcome: ``status`` is "passed", "failed" or "skipped"; ``numbers`` what it measured."""

    name: str
    status: str
    numbers: dict[str, Any] = field(default_factory=dict)
    meaning: str = ""
    advice: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass
class SanityReport:
    """The checks in the order they ran; ``report["overfit_one_batch"]`` gives one, ``report.ok`` whether
    none failed. Prints as text (``print(report)``) and as a Markdown table in a notebook."""

    checks: list[Check]
    framework: str = ""

    def __getitem__(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check named {name!r}: the checks are {', '.join(c.name for c in self.checks)}")

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.status == FAILED]

    def __str__(self) -> str:
        mark = {PASSED: "ok  ", FAILED: "FAIL", SKIPPED: "skip"}
        lines = [f"sanity check ({self.framework}): "
                 + ("every check passed" if self.ok else f"{len(self.failed)} failed: {', '.join(self.failed)}")]
        for c in self.checks:
            lines.append(f"[{mark[c.status]}] {c.name}: {_numbers(c.numbers)}")
            if c.status != PASSED:
                lines.append(f"       {c.meaning}")
                if c.advice:
                    lines.append(f"       try: {c.advice}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"SanityReport({self.framework!r}, failed={self.failed})"

    def _repr_markdown_(self) -> str:
        rows = ["| check | result | numbers | what it means | what to try |", "|---|---|---|---|---|"]
        for c in self.checks:
            cells = [c.name, f"**{c.status}**" if c.status == FAILED else c.status, _numbers(c.numbers),
                     c.meaning if c.status != PASSED else "", c.advice if c.status != PASSED else ""]
            rows.append("| " + " | ".join(html.escape(str(x)).replace("|", "\\|") for x in cells) + " |")
        return "\n".join(rows)


class Trainer(Protocol):
    """A copy of the caller's model with its own optimizer; arrays in and out are numpy. ``step`` and
    ``grad_norms`` run in training mode, ``loss`` and ``predict`` in inference mode (dropout off)."""

    def predict(self, x: np.ndarray) -> np.ndarray: ...
    def loss(self, x: np.ndarray, y: np.ndarray) -> float: ...
    def step(self, x: np.ndarray, y: np.ndarray) -> float: ...
    def grad_norms(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]: ...
    def weights(self) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class Probe:
    """What a flavor gives the checks: ``fresh()`` a new copy at the caller's weights, the loss's kind (one
    of `LOSS_KINDS` or None) and its name for messages."""

    fresh: Callable[[], Trainer]
    loss_kind: str | None
    loss_name: str
    framework: str


def untrainable(model: Any) -> ValueError:
    """The error for a model with nothing to train, in both flavors."""
    return ValueError(f"{type(model).__name__} has no trainable parameters: the checks train a copy of it, so "
                      "give a model with at least one trainable layer (built, for Keras)")


def take_batches(loader: Iterable[Any], n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first ``n`` (x, y) batches of the loader as numpy arrays (a torch or TensorFlow tensor converts)."""
    batches = []
    for batch in loader:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError(f"the loader must yield (x, y) pairs, got {type(batch).__name__}")
        batches.append((np.asarray(batch[0]), np.asarray(batch[1])))
        if len(batches) == n:
            break
    if not batches:
        raise ValueError("the loader yields no batches")
    return batches


def sanity_check(probe: Probe, loader: Iterable[Any], thresholds: SanityThresholds | None = None) -> SanityReport:
    """Read the loader's first batches and run every check on copies of the model (what both flavors call)."""
    t = thresholds or SanityThresholds()
    return run_checks(probe, take_batches(loader, t.num_batches), t)


def run_checks(probe: Probe, batches: Sequence[tuple[np.ndarray, np.ndarray]],
               thresholds: SanityThresholds | None = None) -> SanityReport:
    """Every check on ``batches`` (the loader's first ones), each on a fresh copy of the model."""
    t = thresholds or SanityThresholds()
    checks = [check_data(probe, batches, t), check_shuffling(probe, batches, t)]
    with warnings.catch_warnings():  # e.g. torch's broadcast warning: the data check has already named it
        warnings.simplefilter("ignore")
        checks += [check_init_loss(probe, batches, t), check_gradients(probe, batches, t),
                   check_update_ratio(probe, batches, t), check_overfit(probe, batches, t),
                   check_baseline(probe, batches, t)]
    return SanityReport(checks, probe.framework)


# -- the checks --------------------------------------------------------------------------------------
def check_data(probe: Probe, batches, t: SanityThresholds) -> Check:
    """NaN/Inf in inputs or targets, input scale, prediction vs target shape, class labels and balance."""
    x = np.concatenate([b[0] for b in batches]).astype(np.float64)
    y = np.concatenate([b[1] for b in batches])
    pred_shape = probe.fresh().predict(batches[0][0]).shape
    numbers: dict[str, Any] = {"samples": len(x), "x_min": x.min(initial=np.inf), "x_max": x.max(initial=-np.inf),
                               "x_mean": x.mean(), "x_std": x.std(), "prediction": pred_shape,
                               "target": batches[0][1].shape}
    problems, advice = [], []
    bad_x, bad_y = int(np.size(x) - np.isfinite(x).sum()), int(np.size(y) - np.isfinite(y.astype(float)).sum())
    if bad_x or bad_y:
        numbers.update(nonfinite_x=bad_x, nonfinite_y=bad_y)
        problems.append(f"{bad_x} NaN/Inf input values and {bad_y} NaN/Inf targets in the first {len(x)} samples")
        advice.append("find where they come from (a division by zero, a log of 0, missing values) and impute or drop")
    elif max(abs(numbers["x_mean"]), numbers["x_std"]) > t.input_scale:
        problems.append(f"inputs are not normalised (mean {numbers['x_mean']:.3g}, std {numbers['x_std']:.3g})")
        advice.append("standardise each feature with the training set's mean and std")
    if probe.loss_kind == "cross_entropy":
        k = pred_shape[-1] if len(pred_shape) > 1 else 1
        labels = y.astype(np.int64).ravel()
        counts = np.bincount(labels[(labels >= 0) & (labels < k)], minlength=k)
        numbers["class_counts"] = counts.tolist()
        if labels.min() < 0 or labels.max() >= k or not np.all(labels == y.ravel()):
            problems.append(f"class labels must be whole numbers in [0, {k}), found {y.min()}..{y.max()}")
            advice.append("map the labels to 0..K-1, or give the last layer one output per class")
    elif pred_shape != batches[0][1].shape:
        try:
            wide = np.broadcast_shapes(pred_shape, batches[0][1].shape)
        except ValueError:
            wide = None
        numbers["broadcast"] = wide
        problems.append(f"prediction {pred_shape} and target {batches[0][1].shape} differ"
                        + (f": an elementwise loss broadcasts them to {wide}, comparing every prediction with every "
                           "target" if wide is not None else ""))
        advice.append("reshape the target to the prediction's shape (y.reshape(-1, 1) or y[:, None]); Keras' "
                      "built-in losses match ranks, a hand-written loss does not")
    return _check("inputs_and_targets", problems, numbers,
                  "bad values or shapes poison every step after them", "; ".join(advice))


def check_shuffling(probe: Probe, batches, t: SanityThresholds) -> Check:
    """The loader's first batches: all of one class, or targets in sorted order, mean it does not shuffle."""
    ys = [np.asarray(b[1]).reshape(len(b[1]), -1)[:, 0].astype(np.float64) for b in batches]
    y = np.concatenate(ys)
    if len(y) < 8 or not np.all(np.isfinite(y)):
        return Check("shuffling", SKIPPED, {"samples": len(y)}, "too few (or non-finite) targets to judge the order")
    steps = np.diff(y)
    ordered = max(np.mean(steps >= 0), np.mean(steps <= 0))
    numbers: dict[str, Any] = {"batches": len(batches), "ordered_neighbours": ordered}
    problems = []
    if probe.loss_kind in ("cross_entropy", "bce_with_logits"):
        single = sum(len(np.unique(b)) == 1 for b in ys)
        numbers["single_class_batches"] = single
        if len(batches) > 1 and single * 2 >= len(batches):  # random batches of 32 are almost never pure
            problems.append(f"{single} of the first {len(batches)} batches hold a single class")
    if ordered >= t.sorted_fraction and np.ptp(y) > 0:
        problems.append(f"{ordered:.0%} of neighbouring targets are in order: the data is sorted")
    return _check("shuffling", problems, numbers,
                  "each batch's gradient pulls toward a few classes or targets: the loss zig-zags and the model "
                  "forgets what earlier batches taught it",
                  "shuffle the training loader (DataLoader(shuffle=True), dataset.shuffle(n)) every epoch")


def check_init_loss(probe: Probe, batches, t: SanityThresholds) -> Check:
    """The loss before any step, against what a near-uniform guess costs."""
    model = probe.fresh()
    loss = float(np.mean([model.loss(x, y) for x, y in batches]))
    y = np.concatenate([b[1] for b in batches]).astype(np.float64)
    kind = probe.loss_kind
    if kind == "cross_entropy":
        k = model.predict(batches[0][0]).shape[-1]
        expected, why = math.log(k), f"ln {k}: uniform scores over {k} classes"
    elif kind == "bce_with_logits":
        expected, why = math.log(2), "ln 2: scores near 0 give probability 1/2"
    elif kind == "mse":
        expected = float(np.mean(y ** 2))
        why = "mean of y² (the target variance plus its mean squared): what predicting about 0 costs"
    else:
        return Check("init_loss", SKIPPED, {"loss": loss},
                     f"no expected starting value for {probe.loss_name}: losslab knows cross-entropy on logits "
                     "(ln K), binary cross-entropy on logits (ln 2) and MSE (mean of y²)")
    numbers = {"loss": loss, "expected": expected, "why": why}
    factor = t.init_factor_mse if kind == "mse" else t.init_factor
    ok = np.isfinite(loss) and expected / t.init_factor <= loss <= expected * factor
    advice = "scale the initial weights down (the framework's default init), a zero last-layer bias"
    if kind == "mse" and np.mean(y) ** 2 > np.var(y):
        advice += "; centre the targets or set the last bias to their mean"
    if kind == "cross_entropy":
        advice += "; feed logits, not probabilities (no softmax before the loss)"
    return _check("init_loss", [] if ok else [f"the first loss is {loss:.4g}, expected about {expected:.4g}"],
                  numbers, "the initial scores are far from uninformative: too large an init, a wrong loss, or "
                  "wrongly scaled targets", advice)


def check_gradients(probe: Probe, batches, t: SanityThresholds) -> Check:
    """Per-layer gradient norms on the first batch: zero (dead or disconnected), NaN/Inf, or exploding."""
    norms = probe.fresh().grad_norms(*batches[0])
    if not norms:
        return Check("gradient_norms", FAILED, {}, "no parameter is trainable", "unfreeze the layers to train")
    dead = [n for n, v in norms.items() if np.isfinite(v) and v <= t.grad_zero]
    bad = [n for n, v in norms.items() if not np.isfinite(v)]
    huge = [n for n, v in norms.items() if np.isfinite(v) and v > t.grad_explode]
    problems = ([f"zero gradient: {', '.join(dead)}"] if dead else []) + \
               ([f"NaN/Inf gradient: {', '.join(bad)}"] if bad else []) + \
               ([f"exploding gradient: {', '.join(huge)}"] if huge else [])
    return _check("gradient_norms", problems, {"norms": norms},
                  "a layer with no gradient does not learn (dead ReLUs, a detached tensor, a disconnected "
                  "branch); an exploding one will throw the weights away",
                  "check the forward pass for detach()/numpy() round trips and dead units (a smaller first "
                  "step, a smaller init); clip the gradient norm or lower the learning rate for explosions")


def check_update_ratio(probe: Probe, batches, t: SanityThresholds) -> Check:
    """The median per-step ||update|| / ||weight|| of each weight matrix over a few steps (about 1e-3 is right)."""
    model = probe.fresh()
    x, y = batches[0]
    ratios: dict[str, list[float]] = {}
    before = model.weights()
    for _ in range(t.ratio_steps):
        model.step(x, y)
        after = model.weights()
        for name, w in before.items():
            scale = np.linalg.norm(w)
            ratios.setdefault(name, []).append(np.linalg.norm(after[name] - w) / scale if scale > 0 else np.nan)
        before = after
    median = {n: float(np.median(r)) for n, r in ratios.items()}
    high = [n for n, r in median.items() if not r <= t.ratio_high]
    low = [n for n, r in median.items() if r < t.ratio_low]
    problems = ([f"above {t.ratio_high:g}: {', '.join(high)}"] if high else []) + \
               ([f"below {t.ratio_low:g}: {', '.join(low)}"] if low else [])
    advice = []
    if high:
        advice.append("lower the learning rate (or the init scale) until updates are about 1e-3 of the weights")
    if low:
        advice.append("raise the learning rate, or check those layers receive gradient and are not frozen")
    return _check("update_ratio", problems, {"median_ratio": median},
                  "CS231n's rule of thumb: each step changes a weight matrix by about 1e-3 of its norm; far above, "
                  "training thrashes; far below, it barely moves", "; ".join(advice))


def check_overfit(probe: Probe, batches, t: SanityThresholds) -> Check:
    """Fit one small batch: a healthy model and loss drive it to near zero within a few hundred steps."""
    model = probe.fresh()
    x, y = batches[0][0][:t.overfit_size], batches[0][1][:t.overfit_size]
    start = model.loss(x, y)
    best, steps = start, 0
    while steps < t.overfit_steps and np.isfinite(best) and best > t.overfit_ratio * start:
        model.step(x, y)
        steps += 1
        best = min(best, model.loss(x, y)) if steps % 10 == 0 or steps == t.overfit_steps else best
    numbers = {"samples": len(x), "start": start, "best": best, "steps": steps}
    ok = np.isfinite(best) and best <= t.overfit_ratio * start
    return _check("overfit_one_batch", [] if ok else [f"{len(x)} samples only got from {start:.4g} to {best:.4g}"],
                  numbers, "a model that cannot memorise a few samples cannot learn at all: frozen weights, a "
                  "broken loss (softmax before a logits loss), a too-low learning rate, or a model too small",
                  "check the loss takes what the model outputs, that the weights change, and the learning rate")


def check_baseline(probe: Probe, batches, t: SanityThresholds) -> Check:
    """Train on real and on zeroed inputs; on a held-out batch the real-input model must do clearly better."""
    if len(batches) < 2:
        return Check("input_baseline", SKIPPED, {"batches": len(batches)}, "needs at least two batches")
    train, (xh, yh) = batches[:-1], batches[-1]
    losses = {}
    for label, transform in (("real", lambda x: x), ("zeroed", np.zeros_like)):
        model = probe.fresh()
        for i in range(t.baseline_steps):
            x, y = train[i % len(train)]
            model.step(transform(x), y)
        losses[label] = model.loss(transform(xh), yh)
    ok = losses["real"] <= t.baseline_ratio * losses["zeroed"]
    return _check("input_baseline", [] if ok else ["real inputs do no better than zeros on a held-out batch"],
                  {"held_out_real": losses["real"], "held_out_zeroed": losses["zeroed"],
                   "steps": t.baseline_steps}, "the model is not using its inputs, or the targets do not depend on "
                  "them (labels misaligned with inputs, inputs lost in the pipeline)",
                  "check that each input is paired with its own label (shuffle x and y together), and that the "
                  "inputs reach the model")


def _check(name: str, problems: list[str], numbers: dict[str, Any], meaning: str, advice: str) -> Check:
    if not problems:
        return Check(name, PASSED, numbers, meaning, advice)
    return Check(name, FAILED, numbers, "; ".join(problems) + ": " + meaning, advice)


def _numbers(numbers: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in numbers.items())


def _fmt(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.3g}"
    return str(v)
