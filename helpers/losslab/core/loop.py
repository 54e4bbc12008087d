"""The epoch driver both framework flavors share.

A flavor supplies one function that trains an epoch and returns its measurements as *one* batch of arrays
(copied off the device once per epoch, never per step), and one that returns the validation loss's sum and
sample count. This module turns those into a `TrainingHistory`: per-sample epoch averages, per-layer norms,
learning rate (after any schedule set it), timing, the early stop on a non-finite loss, the live plot and the
progress bar; and it checks what both flavors must refuse alike (used-up loaders, empty loaders).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .history import TrainingHistory, as_history
from .signals import STOP_NONFINITE_TRAIN, STOP_NONFINITE_VAL, StopReason, first_nonfinite

#: A learning-rate schedule as Keras' ``LearningRateScheduler`` takes it: ``schedule(epoch, lr) -> lr``
#: (epoch counted from 0), applied at the start of each epoch, in both flavors.
Schedule = Callable[[int, float], float]


@dataclass
class EpochResult:
    """What one training epoch measured, already on the host.

    ``losses[i]`` is the mean loss of step i, ``batch_sizes[i]`` its sample count, ``layer_norms[i, j]`` the
    L2 norm of parameter j's gradient at step i (before clipping), or None when norms were not tracked.
    """

    losses: np.ndarray
    batch_sizes: np.ndarray
    layer_norms: np.ndarray | None = None


def check_loader(loader: Any, name: str) -> None:
    """Refuse a loader that cannot be iterated once per epoch (a generator is used up after the first)."""
    if isinstance(loader, Iterator):
        raise TypeError(f"{name} is a one-shot iterator ({type(loader).__name__}); training iterates it once per "
                        "epoch, so give something that can be iterated again: a DataLoader, a tf.data.Dataset or "
                        "a list of (x, y) batches")
    if not hasattr(loader, "__iter__"):
        raise TypeError(f"{name} must yield (x, y) batches, got {type(loader).__name__}")


def cycle_batches(loader: Any) -> Iterator[Any]:
    """The loader's batches, over and over (a range test takes more steps than one epoch has)."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("the training loader yields no batches")


def validation_mean(total: float, count: float) -> float:
    """The per-sample validation loss from a sum over batches and its sample count; an empty set is an error."""
    if count <= 0:
        raise ValueError("the validation loader yielded no batches (with drop_last=True and fewer samples than one "
                         "batch, every batch is dropped): give it at least one batch, or val_loader=None")
    return float(total) / float(count)


def run_epochs(train_epoch: Callable[[int], EpochResult], validate: Callable[[], float] | None,
               num_epochs: int, *, get_lr: Callable[[], float], layer_names: Sequence[str] = (),
               schedule: Schedule | None = None, set_lr: Callable[[float], None] | None = None,
               end_epoch: Callable[[int, float | None], None] | None = None, live_plot: bool | str = False,
               progress: bool = False, meta: dict[str, Any] | None = None,
               framework: str | None = None) -> TrainingHistory:
    """Train for ``num_epochs`` and record everything; a non-finite loss ends the run and is recorded.

    ``schedule(epoch, lr)`` (with ``set_lr``) sets each epoch's rate before it starts, so ``history.lr`` is
    the rate the epoch trained at; ``end_epoch(epoch, val_loss)`` runs after a finished epoch (a framework's
    own scheduler steps there).
    """
    if isinstance(num_epochs, bool) or int(num_epochs) != num_epochs or int(num_epochs) < 1:
        raise ValueError(f"num_epochs must be a whole number >= 1, got {num_epochs!r}")
    if schedule is not None and not callable(schedule):
        raise TypeError(f"scheduler must be a callable schedule(epoch, lr) -> lr, got {type(schedule).__name__}")
    history = TrainingHistory(meta=dict(meta or {}), framework=framework)
    live = _live_plot(live_plot)
    bar = _progress_bar(progress, int(num_epochs))
    try:
        for epoch in range(int(num_epochs)):
            if schedule is not None and set_lr is not None:
                set_lr(float(schedule(epoch, float(get_lr()))))
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
            if bar is not None:
                bar.update(1)
            if val is not None and first_nonfinite([val]) is not None:
                history.stop_reason = StopReason(f"{_word(val)} validation loss ({val}) in epoch {epoch + 1}",
                                                 STOP_NONFINITE_VAL, epoch=epoch + 1, value=val)
                break
            if end_epoch:
                end_epoch(epoch, val)
            if live:
                live.update(history)
    finally:
        if bar is not None:
            bar.close()
        if live and history.epochs:  # an error in epoch 1 leaves nothing to draw: let that error through
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
    if losses.size == 0:
        raise ValueError(f"the training loader yielded no batches in epoch {history.epochs + 1} (with "
                         "drop_last=True and fewer samples than one batch, every batch is dropped): give it at "
                         "least one batch")
    bad = first_nonfinite(losses)
    if bad is not None:  # keep the steps up to and including the first non-finite one
        cut = bad + 1
        history.extend_iterations("iter_loss", losses[:cut])
        value = float(losses[bad])
        history.train_loss.append(value)
        epoch = history.epochs
        history.stop_reason = StopReason(
            f"{_word(value)} training loss ({value}) in epoch {epoch}, step {cut} of the epoch", STOP_NONFINITE_TRAIN,
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


def _word(value: float) -> str:
    return "overflowed" if math.isfinite(value) else "non-finite"


def _live_plot(enabled: bool | str):
    """``live_plot=True`` titles the figure by what it shows; a string is the caller's own title."""
    if not enabled:
        return None
    from .live import LivePlot
    return LivePlot(title=enabled if isinstance(enabled, str) else "live: loss per epoch while training")


def _progress_bar(enabled: bool, total: int):
    if not enabled:
        return None
    from .live import progress
    return progress(None, total=total, desc="epochs")


def sweep(values: Sequence[float], train_one: Callable[[float], Any]) -> dict[float, TrainingHistory]:
    """Train once per value (e.g. learning rate) and keep every record, diverged ones included."""
    if len(values) == 0:
        raise ValueError("give at least one value to compare")
    return {float(v): as_history(train_one(float(v))) for v in values}
