"""The epoch driver both framework flavors share.

A flavor supplies one function that trains an epoch and returns its measurements as *one* batch of arrays
(copied off the device once per epoch, never per step), and one that returns the validation loss. This module
turns those into a `TrainingHistory`: per-sample epoch averages, per-layer norms, learning rate, timing,
the early stop on a non-finite loss, the live plot and the progress bar.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .history import TrainingHistory, as_history
from .signals import STOP_NONFINITE_TRAIN, STOP_NONFINITE_VAL, StopReason, first_nonfinite


@dataclass
class EpochResult:
    """What one training epoch measured, already on the host.

    ``losses[i]`` is the mean loss of step i, ``batch_sizes[i]`` its sample count, ``layer_norms[i, j]`` the
    L2 norm of parameter j's gradient at step i (before clipping), or None when norms were not tracked.
    """

    losses: np.ndarray
    batch_sizes: np.ndarray
    layer_norms: np.ndarray | None = None


def run_epochs(train_epoch: Callable[[int], EpochResult], validate: Callable[[], float] | None,
               num_epochs: int, *, get_lr: Callable[[], float], layer_names: Sequence[str] = (),
               end_epoch: Callable[[int, float | None], None] | None = None, live_plot: bool = False,
               progress: bool = False, meta: dict[str, Any] | None = None,
               framework: str | None = None) -> TrainingHistory:
    """Train for ``num_epochs`` and record everything; a non-finite loss ends the run and is recorded."""
    if int(num_epochs) < 1:
        raise ValueError(f"num_epochs must be at least 1, got {num_epochs}")
    history = TrainingHistory(meta=dict(meta or {}), framework=framework)
    live = _live_plot(live_plot)
    epochs: Iterable[int] = range(int(num_epochs))
    if progress:
        from .live import progress as _progress
        epochs = _progress(epochs, total=int(num_epochs), desc="epochs")
    try:
        for epoch in epochs:
            lr = float(get_lr())
            start = time.perf_counter()
            result = train_epoch(epoch)
            record_epoch(history, result, layer_names)
            history.lr.append(lr)
            if history.stopped_early:
                if validate:
                    history.val_loss.append(math.nan)
                history.epoch_time.append(time.perf_counter() - start)
                break
            val = float(validate()) if validate else None
            if val is not None:
                history.val_loss.append(val)
            history.epoch_time.append(time.perf_counter() - start)
            if val is not None and first_nonfinite([val]) is not None:
                history.stop_reason = StopReason(f"non-finite validation loss ({val}) in epoch {epoch + 1}",
                                                 STOP_NONFINITE_VAL, epoch=epoch + 1, value=val)
                break
            if end_epoch:
                end_epoch(epoch, val)
            if live:
                live.update(history)
    finally:
        if live:
            live.update(history)
            live.close()
    return history


def record_epoch(history: TrainingHistory, result: EpochResult, layer_names: Sequence[str] = ()) -> None:
    """Append one training epoch's measurements to ``history`` (every flavor and the Keras callback use this).

    The epoch's loss is the per-sample mean over its steps. A non-finite (or overflowed) step loss keeps the
    steps up to and including it, and sets a structured ``stop_reason``: the run is to end here.
    """
    losses = np.asarray(result.losses, dtype=np.float64).reshape(-1)
    sizes = np.asarray(result.batch_sizes, dtype=np.float64).reshape(-1)
    bad = first_nonfinite(losses)
    if bad is not None:  # keep the steps up to and including the first non-finite one
        cut = bad + 1
        history.extend_iterations("iter_loss", losses[:cut])
        value = float(losses[bad])
        history.train_loss.append(value)
        epoch = history.epochs
        history.stop_reason = StopReason(
            f"non-finite training loss ({value}) in epoch {epoch}, step {cut} of the epoch", STOP_NONFINITE_TRAIN,
            epoch=epoch, iteration=len(history.iter_loss), value=value)
        losses, sizes = losses[:cut], sizes[:cut]
        norms = None if result.layer_norms is None else np.asarray(result.layer_norms)[:cut]
    else:
        history.extend_iterations("iter_loss", losses)
        history.train_loss.append(float(np.sum(losses * sizes) / max(np.sum(sizes), 1.0)))
        norms = None if result.layer_norms is None else np.asarray(result.layer_norms)
    if norms is not None and norms.size:
        norms = norms.astype(np.float64).reshape(len(losses), -1)
        totals = np.sqrt(np.sum(norms ** 2, axis=1))
        history.extend_iterations("iter_grad_norm", totals)
        history.grad_norm.append(float(np.mean(totals)))
        names = list(layer_names) or [f"param{j}" for j in range(norms.shape[1])]
        for j, name in enumerate(names):
            history.layer_grad_norm.setdefault(name, []).append(float(np.mean(norms[:, j])))


def _live_plot(enabled: bool):
    if not enabled:
        return None
    from .live import LivePlot
    return LivePlot(title="training")


def sweep(values: Sequence[float], train_one: Callable[[float], Any]) -> dict[float, TrainingHistory]:
    """Train once per value (e.g. learning rate) and keep every record, diverged ones included."""
    if len(values) == 0:
        raise ValueError("give at least one value to compare")
    return {float(v): as_history(train_one(float(v))) for v in values}
