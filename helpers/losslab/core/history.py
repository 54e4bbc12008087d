"""The record of one training run, shared by both framework flavors.

A `TrainingHistory` holds plain numbers only (per-epoch series as lists of Python floats, per-iteration
series as float64 numpy arrays, which a 10^7-step record needs to stay cheap to plot), so it can be plotted,
diagnosed, saved and compared without importing torch or tensorflow. Access it like Keras'
``History.history`` (``h["train_loss"]``) or by attribute (``h.train_loss``). Every value given, to the
constructor or by assignment, is checked and converted, so a record is never half-valid. Every reader in
losslab also accepts a plain dict of lists with the keys ``train_loss`` and ``val_loss``; `as_history` is the
one place that turns such input into a record.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from .signals import StopReason, best_epoch as _best_epoch

#: Per-epoch series: one value per completed epoch (``val_loss`` may be empty when there is no validation set).
EPOCH_KEYS = ("train_loss", "val_loss", "grad_norm", "lr", "epoch_time")
#: Per-iteration series: one value per optimizer step (``iter_grad_norm`` only when gradient norms are tracked).
ITER_KEYS = ("iter_loss", "iter_grad_norm")
#: The frameworks a record can come from (``None``: unknown, e.g. a dict typed in by hand).
FRAMEWORKS = ("torch", "tensorflow")
_STOP_COLUMNS = ("stop_kind", "stop_iteration", "stop_value", "stop_reason")


@dataclass(eq=False)
class TrainingHistory:
    """Per-epoch and per-iteration measurements of a training run.

    ``grad_norm`` is the mean total (global L2) gradient norm over the epoch's steps, before clipping;
    ``layer_grad_norm`` maps a parameter name to its per-epoch mean gradient norm. ``stop_reason`` is set
    when a run ended early, e.g. on a non-finite loss (such runs are recorded, never raised): a
    `~losslab.core.signals.StopReason`, a ``str`` that also carries ``kind``, ``epoch``, ``iteration`` and
    ``value`` (a plain text given here becomes one). ``framework`` is "torch", "tensorflow" or None, so
    advice can use that framework's words. Records compare equal when every field does (NaN equals NaN).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    iter_loss: np.ndarray = field(default_factory=lambda: np.empty(0))
    iter_grad_norm: np.ndarray = field(default_factory=lambda: np.empty(0))
    layer_grad_norm: dict[str, list[float]] = field(default_factory=dict)
    stop_reason: StopReason | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    framework: str | None = None

    def __setattr__(self, key: str, value: Any) -> None:
        """Check and convert every field as it is set (constructor and assignment alike)."""
        if key in EPOCH_KEYS:
            value = _floats(value, key).tolist()
        elif key in ITER_KEYS:
            value = _floats(value, key)
            self.__dict__.setdefault("_buffers", {}).pop(key, None)
        elif key == "layer_grad_norm":
            value = _layers(value)
        elif key == "stop_reason":
            value = StopReason.from_value(value)
        elif key == "framework" and value is not None and value not in FRAMEWORKS:
            raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)} or None, got {value!r}")
        elif key == "meta":
            value = dict(value or {})
        object.__setattr__(self, key, value)

    def extend_iterations(self, key: str, values: Any) -> None:
        """Append per-iteration values to ``iter_loss`` or ``iter_grad_norm`` in amortised O(len(values)).

        The series is a view of a buffer that doubles when full, so a long run does not copy its whole
        record once per epoch.
        """
        if key not in ITER_KEYS:
            raise KeyError(f"{key!r} is not a per-iteration series; use one of {', '.join(ITER_KEYS)}")
        new = _floats(values, key)
        current: np.ndarray = getattr(self, key)
        buffers = self.__dict__.setdefault("_buffers", {})
        buffer = buffers.get(key)
        n, m = current.size, new.size
        if buffer is None or current.base is not buffer or n + m > buffer.size:
            buffer = np.empty(max(2 * (n + m), 1024))
            buffer[:n] = current
            buffers[key] = buffer
        buffer[n:n + m] = new
        object.__setattr__(self, key, buffer[:n + m])

    # -- mapping access, as Keras' History.history -------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(f"{key!r} is not a field of TrainingHistory; fields: {', '.join(self.keys())}")
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)]

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.keys() else default

    # -- derived facts -------------------------------------------------------------------------------
    @property
    def epochs(self) -> int:
        """Number of epochs recorded (completed or stopped in)."""
        return len(self.train_loss)

    @property
    def stopped_early(self) -> bool:
        return self.stop_reason is not None

    @property
    def best_epoch(self) -> int | None:
        """0-based epoch of the lowest finite validation loss (training loss when there is no validation)."""
        best = _best_epoch(self.train_loss, self.val_loss)
        return best.index if best is not None else None

    @property
    def iters_per_epoch(self) -> float | None:
        """Average optimizer steps per epoch, to place per-iteration points on an epoch axis."""
        if len(self.iter_loss) == 0 or len(self.train_loss) == 0:  # len(): numpy arrays are welcome too
            return None
        return len(self.iter_loss) / len(self.train_loss)

    # -- persistence --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, dicts, numbers, text), as JSON holds it; the stop reason as its fields."""
        out = {k: _copy(getattr(self, k)) for k in self.keys()}
        out["stop_reason"] = self.stop_reason.to_dict() if self.stop_reason is not None else None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainingHistory":
        """Build a record from a mapping; unknown keys go to ``meta`` so nothing given is lost.

        Files written before ``framework`` was a field kept it in ``meta``; it is moved back.
        """
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known and k != "meta"}
        meta = {**dict(data.get("meta") or {}), **{k: v for k, v in data.items() if k not in known}}
        if kwargs.get("framework") is None and meta.get("framework") in FRAMEWORKS:
            kwargs["framework"] = meta.pop("framework")
        return cls(**kwargs, meta=meta)

    def save(self, path: str | Path) -> Path:
        """Write the record as JSON (everything) or CSV (per-epoch table), chosen by the file suffix.

        The CSV has one row per epoch; a stop reason fills the ``stop_*`` columns of the row of the epoch it
        stopped in, and ``framework`` is a column when known (both are left out when absent).
        """
        path = Path(path)
        if path.suffix == ".json":
            path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=True))
        elif path.suffix == ".csv":
            with path.open("w", newline="") as fh:
                writer = csv.writer(fh)
                cols = list(EPOCH_KEYS) + [f"layer_grad_norm:{k}" for k in self.layer_grad_norm]
                extra = (["framework"] if self.framework else []) + (list(_STOP_COLUMNS) if self.stop_reason else [])
                writer.writerow(["epoch", *cols, *extra])
                series = [getattr(self, k) for k in EPOCH_KEYS] + list(self.layer_grad_norm.values())
                stop_row = self.epochs - 1 if self.stop_reason is None or self.stop_reason.epoch is None \
                    else min(self.stop_reason.epoch, self.epochs) - 1
                for i in range(self.epochs):
                    row = [i, *(_cell(s, i) for s in series)] + ([self.framework] if self.framework else [])
                    if self.stop_reason:
                        stop = self.stop_reason
                        row += ([stop.kind, _text(stop.iteration), _text(stop.value), stop.text] if i == stop_row
                                else ["", "", "", ""])
                    writer.writerow(row)
        else:
            raise ValueError(f"cannot save a history as {path.suffix!r}: use a .json or .csv file name")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TrainingHistory":
        """Read a record written by `save` (JSON restores everything; CSV the per-epoch columns).

        Files from older versions, with a plain-text stop reason, load too.
        """
        path = Path(path)
        if path.suffix == ".json":
            return cls.from_dict(json.loads(path.read_text()))
        if path.suffix == ".csv":
            with path.open(newline="") as fh:
                rows = list(csv.DictReader(fh))
            data: dict[str, Any] = {k: [] for k in EPOCH_KEYS}
            layers: dict[str, list[float]] = {}
            for epoch, row in enumerate(rows, start=1):
                for key, value in row.items():
                    if key in EPOCH_KEYS and value != "":
                        data[key].append(float(value))
                    elif key.startswith("layer_grad_norm:") and value != "":
                        layers.setdefault(key.split(":", 1)[1], []).append(float(value))
                if row.get("framework"):
                    data["framework"] = row["framework"]
                if row.get("stop_reason") or row.get("stop_kind"):
                    data["stop_reason"] = {"text": row.get("stop_reason", ""), "kind": row.get("stop_kind") or
                                           "other", "epoch": epoch, "iteration": _number(row.get("stop_iteration"),
                                                                                         int),
                                           "value": _number(row.get("stop_value"), float)}
            data["layer_grad_norm"] = layers
            return cls.from_dict(data)
        raise ValueError(f"cannot load a history from {path.suffix!r}: use a .json or .csv file")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrainingHistory):
            return NotImplemented
        return all(_same(getattr(self, k), getattr(other, k)) for k in self.keys())

    def __repr__(self) -> str:
        last = f"{self.train_loss[-1]:.4g}" if self.train_loss else "-"
        val = f"{self.val_loss[-1]:.4g}" if self.val_loss else "-"
        stop = f", stopped: {self.stop_reason}" if self.stop_reason else ""
        return (f"TrainingHistory({self.epochs} epochs, {len(self.iter_loss)} iterations, "
                f"last train_loss={last}, val_loss={val}{stop})")


def as_history(history: "TrainingHistory | Mapping[str, Any]") -> TrainingHistory:
    """Accept a `TrainingHistory`, a Keras ``History`` or a dict of lists; reject anything else clearly."""
    if isinstance(history, TrainingHistory):
        return history
    if hasattr(history, "history") and isinstance(getattr(history, "history"), Mapping):
        history = history.history  # a keras.callbacks.History
    if not isinstance(history, Mapping):
        raise TypeError(f"expected a TrainingHistory or a dict of lists with 'train_loss' and 'val_loss', "
                        f"got {type(history).__name__}")
    data = dict(history)
    if "train_loss" not in data and "loss" in data:  # Keras names
        data["train_loss"] = data.pop("loss")
        if "val_loss" in data:
            data["val_loss"] = data.pop("val_loss")
    if "train_loss" not in data:
        raise ValueError("the history has no 'train_loss' (or Keras 'loss') series; "
                         f"keys given: {sorted(data) or 'none'}")
    hist = TrainingHistory.from_dict(data)
    if not hist.train_loss:
        raise ValueError("the history is empty: 'train_loss' holds no values; train for at least one epoch")
    return hist


def _floats(values: Any, name: str) -> np.ndarray:
    """A flat float64 array of numbers, or a TypeError naming the first value that is not one.

    Text is refused even when it reads as a number ("1.0"): a loss given as text is a bug upstream.
    """
    if values is None:
        return np.empty(0)
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise TypeError(f"history[{name!r}] must be a list of numbers, got {type(values).__name__}")
    if isinstance(values, (list, tuple)) and set(map(type, values)) <= {float, int}:
        return np.fromiter(values, dtype=np.float64, count=len(values))  # plain numbers: no dtype-discovery pass
    try:
        array = values if isinstance(values, np.ndarray) else np.array(
            values if isinstance(values, (list, tuple)) else list(values))
    except ValueError:  # ragged nesting
        raise TypeError(f"history[{name!r}] must be a flat list of numbers") from None
    if array.dtype.kind in "biuf" and array.ndim <= 1:
        return array.astype(np.float64, copy=False).reshape(-1)
    if array.ndim > 1:
        raise TypeError(f"history[{name!r}] must be a flat list of numbers, got shape {array.shape}")
    for i, v in enumerate(array.tolist()):
        if isinstance(v, (str, bytes)) or not _is_number(v):
            raise TypeError(f"history[{name!r}][{i}] is {v!r}, which is not a number")
    return array.astype(np.float64)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _layers(value: Any) -> dict[str, list[float]]:
    if not isinstance(value, Mapping):
        raise TypeError(f"history['layer_grad_norm'] must map layer names to lists of numbers, "
                        f"got {type(value).__name__}")
    return {str(k): _floats(v, f"layer_grad_norm[{k}]").tolist() for k, v in value.items()}


def _copy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, np.ndarray)) and isinstance(b, (list, np.ndarray)):
        try:
            return len(a) == len(b) and bool(np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                                                           equal_nan=True))
        except (TypeError, ValueError):
            return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _cell(series: list[float], i: int) -> str:
    return repr(series[i]) if i < len(series) else ""


def _text(value: float | int | None) -> str:
    return "" if value is None else repr(value)


def _number(text: str | None, kind: type) -> Any:
    return kind(float(text)) if text else None
