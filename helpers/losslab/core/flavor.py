"""What a framework flavor supplies, and what is built on it once for both: seeding, optimizer and loss names,
the learning-rate sweep, the range-test driver and the explorer.

A flavor (`losslab.torch`, `losslab.tensorflow`) describes itself with a `Flavor`: how to seed, train, build an
optimizer and take one range-test step. Everything else here is framework-free, so the two flavors cannot
drift apart: the same names mean the same optimizer and the same loss, and a sweep seeds, trains and plots
the same way in both.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .history import TrainingHistory
from .loop import check_loader, sweep
from .lr_range import RangeTestResult, run_range_test

#: Optimizers both flavors build by name, with the same meaning (``momentum`` and ``nesterov`` use the
#: ``momentum`` argument, 0.9 by default). Other names fall back to the framework's own optimizer of that name.
#: ``optimizer=`` also takes a factory called with the learning rate the way the framework's optimizer classes
#: take it (torch: ``factory(params, lr)``; Keras: ``factory(lr)``): the class itself, or a partial of it.
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
#: The learning rate a name gets when none is given (Keras' defaults; torch's own SGD default is 1e-3).
DEFAULT_LR = {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001}
#: Losses both flavors build by name: each is the mean over the batch; the two cross-entropies take logits
#: (integer class labels for ``cross_entropy``, 0/1 targets for ``bce_with_logits``).
LOSS_NAMES = ("mse", "mae", "huber", "cross_entropy", "bce_with_logits")

def canonical_name(name: str) -> str:
    """An optimizer or loss name as both flavors look it up: lower case, "-" as "_", "l1" as "mae"."""
    key = str(name).lower().replace("-", "_")
    return {"l1": "mae"}.get(key, key)


def unknown(kind: str, name: str, names: Sequence[str]) -> ValueError:
    """The error for a name neither flavor knows, listing the ones they do."""
    return ValueError(f"unknown {kind} {name!r}: use one of {', '.join(names)}, or pass the framework's own "
                      f"{kind} object")


def build_optimizer(spec: Any, lr: float | None, momentum: float, *, optimizer_type: type,
                    by_name: Callable[[str, float | None, float], Any], from_factory: Callable[[Any, float], Any],
                    factory_shape: str) -> Any:
    """An optimizer from a name or a factory, the same way in both flavors (``spec`` is what ``optimizer=`` got).

    An optimizer object is refused: it is tied to one model, and a sweep trains a fresh model per rate.
    """
    if isinstance(spec, str):
        return by_name(spec, lr, momentum)
    if isinstance(spec, optimizer_type):
        raise TypeError(f"an optimizer object is tied to one model: give a name or a factory {factory_shape} -> "
                        "optimizer, so each fresh model gets its own")
    if callable(spec):
        if lr is None:
            raise ValueError("an optimizer factory needs a learning rate: pass lr=")
        return from_factory(spec, lr)
    raise TypeError(f"optimizer must be an optimizer, a name or a factory {factory_shape}, got {type(spec).__name__}")


def optimizer_argument(optimizer: Any, optimizer_fn: Any) -> Any:
    """``optimizer=``, or its old name ``optimizer_fn=`` (not both)."""
    if optimizer is not None and optimizer_fn is not None:
        raise TypeError("give optimizer= or its old name optimizer_fn=, not both")
    return optimizer if optimizer is not None else optimizer_fn


def seed_everything(seed: int, framework_seed: Callable[[int], None]) -> None:
    """Seed Python's and numpy's global generators, then the framework's (so a CPU run repeats exactly)."""
    if isinstance(seed, bool) or int(seed) != seed:
        raise TypeError(f"seed must be a whole number, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    framework_seed(int(seed))


@dataclass(frozen=True)
class Flavor:
    """The framework-specific pieces the shared sweep, range test and explorer need.

    ``train`` is the flavor's ``train_with_loss_tracking``; ``build_optimizer(spec, model, lr, momentum)``
    turns an `OPTIMIZER_NAMES` name or a factory into an optimizer for ``model``; ``range_step(model,
    optimizer, criterion, loader)`` returns ``step(lr) -> loss``, one optimizer step at that rate.
    """

    framework: str
    set_seed: Callable[[int], None]
    train: Callable[..., TrainingHistory]
    build_optimizer: Callable[[Any, Any, float, float], Any]
    make_criterion: Callable[[Any], Any]
    range_step: Callable[[Any, Any, Any, Any], Callable[[float], float]]


def compare_learning_rates(flavor: Flavor, learning_rates: Sequence[float], model_fn: Callable[[], Any],
                           train_loader: Any, val_loader: Any, num_epochs: int, *, criterion: Any, optimizer: Any,
                           seed: int | None, show: bool) -> dict[float, TrainingHistory]:
    """Train a fresh model per learning rate (same seed, same data) and plot the runs side by side."""
    from .plotting import plot_lr_comparison

    criterion = flavor.make_criterion(criterion)
    spec = optimizer if optimizer is not None else "sgd"

    def train_one(lr: float) -> TrainingHistory:
        if seed is not None:
            flavor.set_seed(seed)
        model = model_fn()
        return flavor.train(model, train_loader, val_loader, criterion, flavor.build_optimizer(spec, model, lr, 0.9),
                            num_epochs)

    results = sweep(learning_rates, train_one)
    plot_lr_comparison(results, show=show)
    return results


def lr_range_test(flavor: Flavor, model_fn: Callable[[], Any], train_loader: Any, criterion: Any, *,
                  start_lr: float, end_lr: float, num_iters: int, optimizer: Any) -> RangeTestResult:
    """Smith's range test on a fresh model: one step per learning rate, cycling through the loader."""
    check_loader(train_loader, "train_loader")
    model = model_fn()
    opt = flavor.build_optimizer(optimizer if optimizer is not None else "sgd", model, start_lr, 0.9)
    step = flavor.range_step(model, opt, flavor.make_criterion(criterion), train_loader)
    return run_range_test(step, start_lr, end_lr, num_iters)


def lr_explorer(flavor: Flavor, model_fn: Callable[[], Any], train_loader: Any, val_loader: Any, criterion: Any,
                num_epochs: int, seed: int, **kwargs: Any) -> Any:
    """The ipywidgets explorer: pick learning rate, optimizer and momentum; it retrains and redraws."""
    from .widgets import lr_explorer as explorer

    criterion = flavor.make_criterion(criterion)

    def train_fn(lr: float, name: str, momentum: float) -> TrainingHistory:
        flavor.set_seed(seed)
        model = model_fn()
        return flavor.train(model, train_loader, val_loader, criterion,
                            flavor.build_optimizer(name, model, lr, momentum), num_epochs)

    return explorer(train_fn, **kwargs)
