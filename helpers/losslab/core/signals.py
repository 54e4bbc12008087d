"""One definition of each fact read off a loss record: divergence, the best epoch, and why a run stopped.

Plots, the live status line, `TrainingHistory` and the diagnosis all ask these functions, so a run the
diagnosis calls diverging is the run the plot marks in red, and every reader names the same best epoch.
Framework-free and numpy-only; the functions take series (lists or arrays), not records, so the record
module can use them too. Epochs in `Divergence` and `StopReason` count from 1, as printed text does;
`BestEpoch.index` is a 0-based position in the series (``history.val_loss[best.index]``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

#: A finite value beyond this counts as overflowed: no loss that large is still training, and matplotlib
#: cannot place ticks near float64's limit. It is treated like Inf everywhere.
HUGE = 1e200

# The finite blow-up rules (the diagnosis documents their sources in ``Thresholds``; these are its defaults).
#: Any loss at or above this is a blow-up (AUTOTRAINER's explosion level, applied to every loss series).
DIVERGE_LOSS_ABS = 1e5
#: The last training loss is above the start and at least this multiple of its lowest value.
DIVERGE_FACTOR = 3.0
#: A loss this many times the start, with the run ending above ``DIVERGE_UNRECOVERED`` of the start.
DIVERGE_SPIKE = 10.0
DIVERGE_UNRECOVERED = 0.5

#: `Divergence.kind` values. The first three are non-finite (certain); the others are finite blow-ups.
NONFINITE_KINDS = ("nan", "inf", "overflow")
BLOWUP_KINDS = ("above_limit", "grew", "spike", "first_epoch_spike", "jumped")
#: ``jumped``: the run ends at least this multiple of its first iteration's loss, and neither an epoch's mean
#: nor any later step's loss ever got back down to that first loss (a finite jump in the first steps that
#: the run never recovered from; one unusually easy first batch is not a start the run left behind).
DIVERGE_JUMP = 2.0

#: `StopReason.kind` values: a NaN/Inf/overflowed training or validation loss ended the run; another
#: callback (e.g. Keras' EarlyStopping) ended it; or a free-text reason given by the user.
STOP_NONFINITE_TRAIN = "nonfinite_train_loss"
STOP_NONFINITE_VAL = "nonfinite_val_loss"
STOP_CALLBACK = "callback"
STOP_OTHER = "other"
STOP_KINDS = (STOP_NONFINITE_TRAIN, STOP_NONFINITE_VAL, STOP_CALLBACK, STOP_OTHER)


# -- values -----------------------------------------------------------------------------------------
def as_float_array(values: ArrayLike) -> np.ndarray:
    """A 1-D float64 array of ``values`` (no copy when it already is one)."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64 and values.ndim == 1:
        return values
    return np.asarray(values, dtype=np.float64).reshape(-1)


def is_ok(values: ArrayLike) -> np.ndarray:
    """Elementwise: a finite value within ``HUGE`` (False for NaN, +-Inf and overflow)."""
    with np.errstate(invalid="ignore"):
        return np.abs(as_float_array(values)) <= HUGE


def first_nonfinite(values: ArrayLike) -> int | None:
    """0-based position of the first NaN, Inf or overflowed value, or None when every value is usable.

    Two reductions first, so the common case (a long, healthy record) costs no mask.
    """
    y = as_float_array(values)
    if y.size == 0 or (-HUGE <= y.min() and y.max() <= HUGE):  # NaN makes both comparisons False
        return None
    return int(np.argmin(is_ok(y)))


def nonfinite_kind(value: float) -> str:
    """"nan", "inf" or "overflow" for a value that `is_ok` rejects."""
    return "nan" if math.isnan(value) else "inf" if math.isinf(value) else "overflow"


# -- the best epoch ----------------------------------------------------------------------------------
class BestEpoch(NamedTuple):
    """The lowest usable loss: ``index`` (0-based epoch), its ``value``, and the ``key`` it was read from."""

    index: int
    value: float
    key: str


def best_epoch(train_loss: ArrayLike, val_loss: ArrayLike = ()) -> BestEpoch | None:
    """The epoch of the lowest usable validation loss, or of the training loss when validation has none.

    Ties go to the earliest epoch; NaN, Inf and overflowed values never win. None when no value is usable.
    """
    for key, values in (("val_loss", val_loss), ("train_loss", train_loss)):
        y = as_float_array(values)
        ok = is_ok(y)
        if ok.any():
            i = int(np.argmin(np.where(ok, y, np.inf)))
            return BestEpoch(i, float(y[i]), key)
    return None


# -- divergence --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Divergence:
    """Where and how a run diverged.

    ``epoch`` counts from 1. ``kind`` is one of `NONFINITE_KINDS` (a NaN, Inf or overflowed loss) or
    `BLOWUP_KINDS` (finite, by the rules below). ``series`` names the loss series it was seen in,
    ``iteration`` is the 1-based position in ``iter_loss`` when it was seen there, ``value`` the loss that
    shows it, ``text`` one human sentence and ``label`` a few words for a plot legend.
    """

    epoch: int
    kind: str
    series: str
    value: float
    text: str
    label: str
    iteration: int | None = None

    @property
    def nonfinite(self) -> bool:
        return self.kind in NONFINITE_KINDS


def find_divergence(train_loss: ArrayLike, val_loss: ArrayLike = (), iter_loss: ArrayLike = (), *,
                    loss_abs: float = DIVERGE_LOSS_ABS, factor: float = DIVERGE_FACTOR,
                    spike: float = DIVERGE_SPIKE, unrecovered: float = DIVERGE_UNRECOVERED,
                    jump: float = DIVERGE_JUMP) -> Divergence | None:
    """Did the run diverge? The one definition used by plots, the live status line and the diagnosis.

    Non-finite: any NaN, Inf or overflowed (beyond `HUGE`) loss in any series; the earliest epoch wins.
    Finite blow-ups, in this order ("start" is the first iteration's loss when it is usable and positive,
    else the first epoch's mean):

    - ``above_limit``: some loss reached ``loss_abs``;
    - ``grew``: the last training loss is above the start and ``factor`` times its lowest value;
    - ``spike``: some loss reached ``spike`` times the start and the run ends above ``unrecovered`` of it;
    - ``first_epoch_spike``: epoch 1's mean is ``spike`` times every later epoch's and the run ends above
      ``unrecovered`` of epoch 2: the spike hid inside the first epoch's mean (ambiguous: a run that
      converged within its first epoch looks the same in epoch means; the text says so);
    - ``jumped``: with a per-iteration record, the last training loss is ``jump`` times the first
      iteration's and no epoch's mean nor any later step's loss ever got back down to it: the first steps
      threw the run somewhere it never came back from (a too-large first step, which can also kill the
      ReLUs, stays finite and below the other rules' bars). A single batch is compared with single batches:
      with small batches the first one can be far easier than the average (a later step as low shows it).

    The ratio rules need positive losses; a loss that can be negative (a log-likelihood) is only checked
    for non-finite values and ``loss_abs``.
    """
    train, val, iters = as_float_array(train_loss), as_float_array(val_loss), as_float_array(iter_loss)
    n = train.size
    if n == 0:
        return None
    found = _nonfinite(train, val, iters)
    if found is not None:
        return found
    first = float(iters[0]) if iters.size and iters[0] > 0 else float(train[0])
    low, last = float(train.min()), float(train[-1])
    peak, peak_series, peak_values = max(((float(s.max()), name, s) for s, name in
                                          ((train, "train_loss"), (val, "val_loss"), (iters, "iter_loss"))
                                          if s.size), key=lambda t: t[0])
    k = int(np.argmax(peak_values)) if peak >= spike * first or peak >= loss_abs else 0  # only when it counts
    peak_epoch = _epoch_of(k, peak_values.size, n) if peak_series == "iter_loss" else k + 1
    if peak >= loss_abs:
        return Divergence(peak_epoch, "above_limit", peak_series, peak,
                          f"the loss reached {peak:.3g}, beyond {loss_abs:.3g}", f"loss > {loss_abs:.0e}")
    if last > first and low > 0 and last / low >= factor:
        return Divergence(int(np.argmax(train)) + 1, "grew", "train_loss", last,
                          f"the training loss grew from {low:.3g} to {last:.3g}, above where it started",
                          f"loss grew {last / low:.3g}x")
    if first > 0 and peak >= spike * first and last >= unrecovered * first:
        return Divergence(peak_epoch, "spike", peak_series, peak,
                          f"the loss shot up to {peak / first:.3g}x its starting value and never recovered "
                          f"(it ends at {last / first:.0%} of the start)", f"spike {peak / first:.3g}x")
    if (n >= 3 and train[1:].min() > 0 and train[0] >= spike * train[1:].max()
            and last >= unrecovered * train[1]):
        return Divergence(1, "first_epoch_spike", "train_loss", float(train[0]),
                          f"the first epoch's mean loss ({train[0]:.3g}) is {train[0] / train[1]:.3g}x the next "
                          "one's and the loss barely improved after it: the first steps blew up (a run that "
                          "converged within its first epoch looks the same in epoch means: record "
                          "per-iteration losses to tell the two apart)", "first-epoch spike")
    if iters.size > 1 and iters[0] > 0 and low > first and float(iters[1:].min()) > first and last >= jump * first:
        return Divergence(1, "jumped", "train_loss", last,
                          f"the loss started at {first:.3g}, no epoch's mean ever got below it, and it ends at "
                          f"{last:.3g} ({last / first:.3g}x the start): the first steps threw the run off",
                          f"jumped {last / first:.3g}x")
    return None


def _epoch_of(iteration: int, iterations: int, epochs: int) -> int:
    """The 1-based epoch of a 0-based iteration, iterations spread evenly over the epochs."""
    return max(1, int(math.ceil((iteration + 1) * epochs / iterations)))


def _nonfinite(train: np.ndarray, val: np.ndarray, iters: np.ndarray) -> Divergence | None:
    found: list[Divergence] = []
    names = {"train_loss": "training loss", "val_loss": "validation loss", "iter_loss": "training loss"}
    for series, values in (("train_loss", train), ("val_loss", val), ("iter_loss", iters)):
        k = first_nonfinite(values)
        if k is None:
            continue
        value = float(values[k])
        kind = nonfinite_kind(value)
        if series == "iter_loss":
            epoch = _epoch_of(k, values.size, train.size)
            where, iteration = f"at iteration {k + 1} (epoch {epoch})", k + 1
        else:
            epoch, where, iteration = k + 1, f"in epoch {k + 1}", None
        word = {"nan": "NaN", "inf": "Inf", "overflow": "overflowed"}[kind]
        found.append(Divergence(epoch, kind, series, value, f"the {names[series]} became {word} ({value}) {where}",
                                {"nan": "NaN", "inf": "Inf", "overflow": "overflow"}[kind], iteration))
    return min(found, key=lambda d: (d.epoch, d.series != "iter_loss")) if found else None


# -- why a run stopped -------------------------------------------------------------------------------
class StopReason(str):
    """Why a run ended early: the human text (it *is* the string) plus structured fields.

    ``kind`` is one of `STOP_KINDS`; ``epoch`` (1-based) the epoch it stopped in; ``iteration`` the 1-based
    position in ``iter_loss`` of the step that stopped it (None when not known or not a step);
    ``value`` the offending loss (None when none). Being a ``str``, ``f"stopped: {h.stop_reason}"`` and
    ``"non-finite" in h.stop_reason`` keep working; `to_dict`/`from_value` carry the fields through JSON.
    """

    kind: str
    epoch: int | None
    iteration: int | None
    value: float | None

    def __new__(cls, text: str, kind: str = STOP_OTHER, epoch: int | None = None, iteration: int | None = None,
                value: float | None = None) -> "StopReason":
        if kind not in STOP_KINDS:
            raise ValueError(f"stop reason kind must be one of {', '.join(STOP_KINDS)}; got {kind!r}")
        self = super().__new__(cls, text)
        self.kind = kind
        self.epoch = None if epoch is None else int(epoch)
        self.iteration = None if iteration is None else int(iteration)
        self.value = None if value is None else float(value)
        return self

    @property
    def text(self) -> str:
        return str.__str__(self)

    @property
    def nonfinite(self) -> bool:
        """True when a NaN/Inf/overflowed loss ended the run (so it diverged)."""
        return self.kind in (STOP_NONFINITE_TRAIN, STOP_NONFINITE_VAL)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "epoch": self.epoch, "iteration": self.iteration, "value": self.value,
                "text": self.text}

    @classmethod
    def from_value(cls, value: "StopReason | str | dict[str, Any] | None") -> "StopReason | None":
        """Accept a StopReason, its `to_dict`, or a plain text (old files: losslab's own texts are parsed)."""
        if value is None or isinstance(value, StopReason):
            return value
        if isinstance(value, dict):
            return cls(str(value.get("text", "")), value.get("kind", STOP_OTHER), value.get("epoch"),
                       value.get("iteration"), value.get("value"))
        if not isinstance(value, str):
            raise TypeError(f"stop_reason must be a text or a StopReason, got {type(value).__name__}")
        return _from_old_text(value)

    def __reduce__(self):  # pickling (multiprocessing, Dask) keeps the fields
        return (StopReason, (self.text, self.kind, self.epoch, self.iteration, self.value))

    def __repr__(self) -> str:
        return (f"StopReason({self.text!r}, kind={self.kind!r}, epoch={self.epoch}, iteration={self.iteration}, "
                f"value={self.value})")


# The texts losslab wrote before stop reasons were structured ("non-finite training loss (nan) in epoch 3,
# step 2 of the epoch"); other texts that speak of NaN/Inf/divergence count as a non-finite training loss,
# any other text is kind "other". Old files are the only place a stop reason is read from text.
_OLD_NONFINITE = re.compile(r"\b(nan|inf|infinity|non-finite|diverg\w*)\b", re.IGNORECASE)
_OLD_DETAIL = re.compile(r"non-finite (training|validation) loss \(([^)]*)\)(?: in epoch (\d+))?")


def _from_old_text(text: str) -> StopReason:
    if not _OLD_NONFINITE.search(text):
        return StopReason(text)
    match = _OLD_DETAIL.search(text)
    if match is None:
        return StopReason(text, STOP_NONFINITE_TRAIN)
    which, value, epoch = match.groups()
    try:
        number: float | None = float(value)
    except ValueError:
        number = None
    kind = STOP_NONFINITE_TRAIN if which == "training" else STOP_NONFINITE_VAL
    return StopReason(text, kind, int(epoch) if epoch else None, None, number)


# -- shapes read off a record ---------------------------------------------------------------------------
def loss_shift(values: ArrayLike) -> float:
    """What to add to a loss so every usable value is positive (ratios and logs need it): 0 when all
    already are, else what lifts the lowest a tenth of the range above zero (a loss that can be negative,
    such as a log-likelihood)."""
    y = as_float_array(values)
    ok = y[is_ok(y)]
    if ok.size == 0 or ok.min() > 0:
        return 0.0
    low, span = float(ok.min()), float(ok.max() - ok.min())
    return -low + (span / 10 if span > 0 else max(abs(low), 1.0))


def epoch_pattern(iter_loss: ArrayLike, per_epoch: int) -> float:
    """How much the per-iteration loss repeats from one epoch to the next: the median over pairs of
    consecutive epochs of the correlation between their steps, once each epoch's own level and slope
    are removed (log loss; each epoch's last step, often a smaller batch, is left out).

    Near 0 when the batches come in a new order each epoch (what is left is minibatch noise); near 1 when
    the same batches come in the same order every epoch and differ in kind (data sorted by class). 0 with
    fewer than three whole epochs or a non-finite loss.
    """
    y = as_float_array(iter_loss)
    per = int(per_epoch)
    epochs = y.size // per if per >= 3 else 0
    if epochs < 3 or first_nonfinite(y) is not None:
        return 0.0
    # epoch 1 still moves fast; each epoch's last step is often a smaller batch, a repeat of no interest
    block = np.log(np.maximum(y[:epochs * per].reshape(epochs, per), 1e-300))[1:, :-1]
    t = np.arange(per - 1, dtype=float) - (per - 2) / 2
    block = block - block.mean(axis=1, keepdims=True)
    block = block - np.outer((block * t).sum(axis=1) / (t ** 2).sum(), t)
    a, b = block[:-1], block[1:]
    den = np.sqrt((a ** 2).sum(axis=1) * (b ** 2).sum(axis=1))
    pairs = np.where(den > 0, (a * b).sum(axis=1) / np.where(den > 0, den, 1.0), 0.0)
    return float(np.median(pairs))  # a typical pair of epochs: a few chaotic early ones do not decide it
