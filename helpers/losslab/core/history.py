"""The record of one training run, shared by both framework flavors.

A `TrainingHistory` holds plain Python floats only, so it can be plotted, diagnosed, saved and compared
without importing torch or tensorflow. Access it like Keras' ``History.history`` (``h["train_loss"]``)
or by attribute (``h.train_loss``). Every reader in losslab also accepts a plain dict of lists with the
keys ``train_loss`` and ``val_loss``; `as_history` is the one place that turns such input into a record.
"""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

#: Per-epoch series: one value per completed epoch (``val_loss`` may be empty when there is no validation set).
EPOCH_KEYS = ("train_loss", "val_loss", "grad_norm", "lr", "epoch_time")
#: Per-iteration series: one value per optimizer step (``iter_grad_norm`` only when gradient norms are tracked).
ITER_KEYS = ("iter_loss", "iter_grad_norm")


@dataclass
class TrainingHistory:
    """Per-epoch and per-iteration measurements of a training run.

    ``grad_norm`` is the mean total (global L2) gradient norm over the epoch's steps, before clipping;
    ``layer_grad_norm`` maps a parameter name to its per-epoch mean gradient norm. ``stop_reason`` is set
    when a run ended early, e.g. on a non-finite loss (such runs are recorded, never raised).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    iter_loss: list[float] = field(default_factory=list)
    iter_grad_norm: list[float] = field(default_factory=list)
    layer_grad_norm: dict[str, list[float]] = field(default_factory=dict)
    stop_reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

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
        series = self.val_loss if any(map(_finite, self.val_loss)) else self.train_loss
        finite = [(v, i) for i, v in enumerate(series) if _finite(v)]
        return min(finite)[1] if finite else None

    @property
    def iters_per_epoch(self) -> float | None:
        """Average optimizer steps per epoch, to place per-iteration points on an epoch axis."""
        if len(self.iter_loss) == 0 or len(self.train_loss) == 0:  # len(): numpy arrays are welcome too
            return None
        return len(self.iter_loss) / len(self.train_loss)

    # -- persistence --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {k: _copy(getattr(self, k)) for k in self.keys()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainingHistory":
        """Build a record from a mapping; unknown keys go to ``meta`` so nothing given is lost."""
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                kwargs[key] = value
            else:
                extra[key] = value
        hist = cls(**{k: v for k, v in kwargs.items() if k not in ("meta",)})
        hist.meta = {**dict(kwargs.get("meta") or {}), **extra}
        for key in EPOCH_KEYS + ITER_KEYS:
            setattr(hist, key, _floats(getattr(hist, key), key))
        hist.layer_grad_norm = {str(k): _floats(v, f"layer_grad_norm[{k}]")
                                for k, v in dict(hist.layer_grad_norm or {}).items()}
        return hist

    def save(self, path: str | Path) -> Path:
        """Write the record as JSON (everything) or CSV (per-epoch table), chosen by the file suffix."""
        path = Path(path)
        if path.suffix == ".json":
            path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=True))
        elif path.suffix == ".csv":
            with path.open("w", newline="") as fh:
                writer = csv.writer(fh)
                cols = list(EPOCH_KEYS) + [f"layer_grad_norm:{k}" for k in self.layer_grad_norm]
                writer.writerow(["epoch", *cols])
                series = [getattr(self, k) for k in EPOCH_KEYS] + list(self.layer_grad_norm.values())
                for i in range(self.epochs):
                    writer.writerow([i, *(_cell(s, i) for s in series)])
        else:
            raise ValueError(f"cannot save a history as {path.suffix!r}: use a .json or .csv file name")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TrainingHistory":
        """Read a record written by `save` (JSON restores everything; CSV the per-epoch columns)."""
        path = Path(path)
        if path.suffix == ".json":
            return cls.from_dict(json.loads(path.read_text()))
        if path.suffix == ".csv":
            with path.open(newline="") as fh:
                rows = list(csv.DictReader(fh))
            data: dict[str, Any] = {k: [] for k in EPOCH_KEYS}
            layers: dict[str, list[float]] = {}
            for row in rows:
                for key, value in row.items():
                    if key in EPOCH_KEYS and value != "":
                        data[key].append(float(value))
                    elif key.startswith("layer_grad_norm:") and value != "":
                        layers.setdefault(key.split(":", 1)[1], []).append(float(value))
            data["layer_grad_norm"] = layers
            return cls.from_dict(data)
        raise ValueError(f"cannot load a history from {path.suffix!r}: use a .json or .csv file")

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


def _finite(v: float) -> bool:
    return isinstance(v, float) and math.isfinite(v)


def _floats(values: Any, name: str) -> list[float]:
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"history[{name!r}] must be a list of numbers, got {type(values).__name__}")
    out = []
    for i, v in enumerate(values):
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise TypeError(f"history[{name!r}][{i}] is {v!r}, which is not a number") from None
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _cell(series: list[float], i: int) -> str:
    return repr(series[i]) if i < len(series) else ""
