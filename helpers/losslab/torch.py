"""losslab for PyTorch: ``from losslab.torch import SimpleNet, train_with_loss_tracking, ...``.

Thin over the framework-free core: this module only knows how to run a PyTorch epoch and step and how to
name PyTorch's optimizers and losses; records, plots, diagnosis, sweeps, the range test and the explorer are
shared with `losslab.tensorflow` (see the flavor-parity table in ``helpers/losslab/README.md``).
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from torch.utils.data import DataLoader, TensorDataset

from .core import flavor as _core
from .core.data import check_xy, make_regression, split_indices
from .core.history import TrainingHistory
from .core.loop import EpochResult, check_loader, cycle_batches, run_epochs, validation_mean
from .core.lr_range import RangeTestResult
from .core import sanity as _sanity
from .core import zoo as _zoo
from . import (identify_training_issues, plot_histories, plot_loss_curves,  # noqa: F401  (re-exported)
               plot_lr_comparison, plot_training_dashboard)

__all__ = [
    "SimpleNet", "generate_synthetic_data", "create_data_loaders", "train_with_loss_tracking",
    "plot_loss_curves", "compare_learning_rates", "identify_training_issues", "lr_range_test",
    "make_optimizer", "global_grad_norm", "set_seed", "lr_explorer", "plot_training_dashboard", "plot_histories",
    "plot_lr_comparison", "TrainingHistory", "sanity_check", "zoo_run",
]


class SimpleNet(nn.Module):
    """A two-hidden-layer ReLU MLP: small enough for a CPU, deep enough to overfit and to show per-layer norms."""

    def __init__(self, input_dim: int, hidden_dim: int = 64, output_dim: int = 1, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, output_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def set_seed(seed: int) -> None:
    """Seed Python, numpy and torch so a run repeats exactly on the CPU."""
    _core.seed_everything(seed, torch.manual_seed)


def generate_synthetic_data(n_samples: int = 1000, n_features: int = 10, noise: float = 0.1,
                            seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The core regression task as float32 tensors: X (n, n_features), y (n, 1)."""
    X, y = make_regression(n_samples, n_features, noise, seed)
    return torch.from_numpy(X), torch.from_numpy(y)


def create_data_loaders(X, y, train_ratio: float = 0.8, batch_size: int = 32, shuffle: bool = True,
                        seed: int | None = None) -> tuple[DataLoader, DataLoader]:
    """Split X, y into training and validation DataLoaders (only the training one reshuffles each epoch)."""
    n = check_xy(X, y)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    train_idx, val_idx = split_indices(n, train_ratio, shuffle, seed)
    train_idx, val_idx = torch.as_tensor(train_idx), torch.as_tensor(val_idx)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    train = DataLoader(TensorDataset(X[train_idx], y[train_idx]), batch_size=batch_size, shuffle=shuffle,
                       generator=generator)
    val = DataLoader(TensorDataset(X[val_idx], y[val_idx]), batch_size=batch_size, shuffle=False)
    return train, val


def global_grad_norm(parameters: Iterable[torch.Tensor]) -> torch.Tensor:
    """L2 norm of all gradients taken together (what clipping by global norm compares to its threshold)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def train_with_loss_tracking(model: nn.Module, train_loader, val_loader, criterion, optimizer,
                             num_epochs: int = 10, *, scheduler=None, clip_grad_norm: float | None = None,
                             track_grad_norm: bool = True, live_plot: bool | str = False, progress: bool = False,
                             device: str | torch.device | None = None, lr: float | None = None) -> TrainingHistory:
    """Train ``model`` and return its `TrainingHistory`.

    ``criterion`` is a loss module or callable ``(prediction, target)``, or a name both flavors know ("mse",
    "mae", "huber", "cross_entropy", "bce_with_logits"); a per-sample result is averaged. ``optimizer`` is a
    ``torch.optim`` optimizer over the model's parameters, or a name ("sgd", "momentum", "nesterov", "adam",
    "adamw", "rmsprop"; learning rate ``lr``, default per name) or a factory ``(params, lr)``.
    ``scheduler`` is a ``torch.optim.lr_scheduler`` object, stepped once per epoch (with the validation loss
    for ``ReduceLROnPlateau``), or a callable ``schedule(epoch, lr) -> lr`` applied at each epoch's start.
    Losses and gradient norms stay on the device and are copied to the host once per epoch, so a GPU is
    never stalled by a ``.item()`` per step. ``clip_grad_norm`` clips by global norm (norms are recorded
    before clipping). A NaN or Inf loss ends the run early; the record says where.
    """
    check_loader(train_loader, "train_loader")
    if val_loader is not None:
        check_loader(val_loader, "val_loader")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be a positive number, got {clip_grad_norm}")
    if isinstance(scheduler, ReduceLROnPlateau) and val_loader is None:
        raise ValueError("ReduceLROnPlateau steps on the validation loss, and val_loader is None: give a "
                         "validation loader, or a schedule that does not need one")
    device = torch.device(device) if device is not None else _model_device(model)
    model.to(device)
    criterion = _criterion(criterion)
    if not isinstance(optimizer, torch.optim.Optimizer):
        optimizer = _build_optimizer(optimizer, model, lr, 0.9)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    names, params = [n for n, _ in named], [p for _, p in named]
    measure = track_grad_norm or clip_grad_norm is not None

    def train_epoch(epoch: int) -> EpochResult:
        model.train()
        losses, norms, sizes = [], [], []
        for xb, yb in train_loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = _mean(criterion(model(xb), yb))
            loss.backward()
            if measure:
                per_param = torch.stack(torch._foreach_norm([_grad(p) for p in params]))
                norms.append(per_param)
                if clip_grad_norm is not None:
                    scale = (clip_grad_norm / (torch.linalg.vector_norm(per_param) + 1e-6)).clamp(max=1.0)
                    torch._foreach_mul_([p.grad for p in params if p.grad is not None], scale)
            optimizer.step()
            losses.append(loss.detach())
            sizes.append(len(xb))
        if not losses:
            return EpochResult(np.empty(0), np.empty(0))
        return EpochResult(torch.stack(losses).cpu().numpy(), np.asarray(sizes),
                           torch.stack(norms).cpu().numpy() if (norms and track_grad_norm) else None)

    def validate() -> float:
        model.eval()
        totals, count = [], 0
        with torch.no_grad():
            for xb, yb in val_loader:
                xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
                totals.append(_mean(criterion(model(xb), yb)) * len(xb))
                count += len(xb)
        return validation_mean(float(torch.stack(totals).sum()) if totals else 0.0, count)

    framework_scheduler = isinstance(scheduler, (LRScheduler, ReduceLROnPlateau))

    def end_epoch(epoch: int, val_loss: float | None) -> None:
        if isinstance(scheduler, ReduceLROnPlateau):
            scheduler.step(val_loss)
        elif framework_scheduler:
            scheduler.step()

    def set_lr(value: float) -> None:
        for group in optimizer.param_groups:
            group["lr"] = value

    meta = {"optimizer": type(optimizer).__name__, "criterion": type(criterion).__name__,
            "clip_grad_norm": clip_grad_norm}
    return run_epochs(train_epoch, validate if val_loader is not None else None, num_epochs,
                      get_lr=lambda: optimizer.param_groups[0]["lr"], layer_names=names,
                      schedule=None if framework_scheduler else scheduler, set_lr=set_lr, end_epoch=end_epoch,
                      live_plot=live_plot, progress=progress, meta=meta, framework="torch")


def make_optimizer(name: str, params, lr: float | None = None, momentum: float = 0.9) -> torch.optim.Optimizer:
    """An optimizer by name, with the same meaning as in `losslab.tensorflow.make_optimizer`.

    "sgd", "momentum" (SGD with ``momentum``), "nesterov", "adam", "adamw", "rmsprop"; ``lr`` defaults per
    name (`losslab.core.flavor.DEFAULT_LR`). Any other name is looked up in ``torch.optim`` (e.g. "adagrad").
    """
    key = _core.canonical_name(name)
    rate = lr if lr is not None else _core.DEFAULT_LR.get(key)
    if key in ("sgd", "momentum", "nesterov"):
        return torch.optim.SGD(params, lr=rate, momentum=0.0 if key == "sgd" else momentum,
                               nesterov=key == "nesterov")
    classes = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop}
    cls = classes.get(key) or {c.lower(): getattr(torch.optim, c) for c in dir(torch.optim)
                               if isinstance(getattr(torch.optim, c), type)}.get(key)
    if cls is None or not issubclass(cls, torch.optim.Optimizer):
        raise _core.unknown("optimizer", name, _core.OPTIMIZER_NAMES)
    return cls(params, lr=rate) if rate is not None else cls(params)


def compare_learning_rates(learning_rates: Sequence[float], model_fn: Callable[[], nn.Module], train_loader,
                           val_loader, num_epochs: int = 100, *, criterion=None, optimizer=None,
                           optimizer_fn: Callable[[Any, float], torch.optim.Optimizer] | None = None,
                           seed: int | None = 0, show: bool = True) -> dict[float, TrainingHistory]:
    """Train a fresh model per learning rate (same seed, same data) and plot the runs side by side.

    ``optimizer`` is a name ("sgd" by default) or a factory ``(params, lr)``; ``optimizer_fn`` is its old name.
    """
    return _core.compare_learning_rates(FLAVOR, learning_rates, model_fn, train_loader, val_loader, num_epochs,
                                        criterion=criterion, seed=seed, show=show,
                                        optimizer=_core.optimizer_argument(optimizer, optimizer_fn))


def lr_range_test(model_fn: Callable[[], nn.Module], train_loader, criterion=None, *, start_lr: float = 1e-6,
                  end_lr: float = 10.0, num_iters: int = 100, optimizer=None,
                  optimizer_fn: Callable[[Any, float], torch.optim.Optimizer] | None = None) -> RangeTestResult:
    """Smith's range test on a fresh model: one step per learning rate, cycling through the loader.

    ``optimizer`` is a name ("sgd" by default) or a factory ``(params, lr)``; ``optimizer_fn`` is its old name.
    """
    return _core.lr_range_test(FLAVOR, model_fn, train_loader, criterion, start_lr=start_lr, end_lr=end_lr,
                               num_iters=num_iters, optimizer=_core.optimizer_argument(optimizer, optimizer_fn))


def lr_explorer(model_fn: Callable[[], nn.Module], train_loader, val_loader, criterion=None,
                num_epochs: int = 20, seed: int = 0, **kwargs):
    """The ipywidgets explorer: pick learning rate, optimizer and momentum; it retrains and redraws."""
    return _core.lr_explorer(FLAVOR, model_fn, train_loader, val_loader, criterion, num_epochs, seed, **kwargs)


def sanity_check(model: nn.Module, loader, loss_fn=None, optimizer="adam", lr: float | None = None, *,
                 thresholds: _sanity.SanityThresholds | None = None) -> _sanity.SanityReport:
    """The checks to run before a long training (`losslab.core.sanity`), each on a deep copy of ``model``.

    ``optimizer`` is a name, a factory ``(params, lr)``, or an optimizer object (a new one of its class and
    settings is built for each copy; the object itself is never stepped). The caller's model is never trained.
    """
    check_loader(loader, "loader")
    if not any(p.requires_grad for p in model.parameters()):
        raise _sanity.untrainable(model)
    criterion = _criterion(loss_fn)
    if isinstance(optimizer, torch.optim.Optimizer):
        settings = {**optimizer.defaults, "lr": optimizer.param_groups[0]["lr"]}
        optimizer = lambda params, rate, cls=type(optimizer): cls(params, **{**settings, "lr": rate})  # noqa: E731
        lr = settings["lr"] if lr is None else lr

    def fresh() -> _SanityCopy:
        twin = copy.deepcopy(model)
        return _SanityCopy(twin, criterion, _build_optimizer(optimizer, twin, lr))

    probe = _sanity.Probe(fresh, _loss_kind(criterion), type(criterion).__name__, "torch")
    return _sanity.sanity_check(probe, loader, thresholds)


class _SanityCopy:
    """A copy of the caller's model in training mode, with its own optimizer (`losslab.core.sanity.Trainer`)."""

    def __init__(self, model: nn.Module, criterion, optimizer: torch.optim.Optimizer):
        self.model, self.criterion, self.optimizer = model.train(), criterion, optimizer
        self.device = _model_device(model)

    def _loss(self, x, y) -> torch.Tensor:
        return _mean(self.criterion(self.model(torch.as_tensor(x, device=self.device)),
                                    torch.as_tensor(y, device=self.device)))

    def predict(self, x) -> np.ndarray:
        with torch.no_grad():
            return self.model.eval()(torch.as_tensor(x, device=self.device)).cpu().numpy()

    def loss(self, x, y) -> float:
        """The loss in evaluation mode (dropout off), so a memorised batch reads as memorised."""
        with torch.no_grad():
            self.model.eval()
            value = float(self._loss(x, y))
        self.model.train()
        return value

    def step(self, x, y) -> float:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._loss(x, y)
        loss.backward()
        self.optimizer.step()
        return float(loss)

    def grad_norms(self, x, y) -> dict[str, float]:
        self.model.train().zero_grad(set_to_none=True)
        self._loss(x, y).backward()
        return {n: float(torch.linalg.vector_norm(_grad(p))) for n, p in self.model.named_parameters()
                if p.requires_grad}

    def weights(self) -> dict[str, np.ndarray]:
        return {n: p.detach().cpu().numpy().copy() for n, p in self.model.named_parameters()
                if p.requires_grad and p.ndim >= 2}


def _loss_kind(criterion) -> str | None:
    kinds = {nn.CrossEntropyLoss: "cross_entropy", nn.BCEWithLogitsLoss: "bce_with_logits", nn.MSELoss: "mse"}
    return kinds.get(type(criterion))


_LOSSES = {"mse": nn.MSELoss, "mae": nn.L1Loss, "huber": nn.HuberLoss, "cross_entropy": nn.CrossEntropyLoss,
           "bce_with_logits": nn.BCEWithLogitsLoss}


def _criterion(criterion) -> Callable:
    if criterion is None:
        return nn.MSELoss()
    if isinstance(criterion, str):
        key = _core.canonical_name(criterion)
        if key not in _LOSSES:
            raise _core.unknown("loss", criterion, _core.LOSS_NAMES)
        return _LOSSES[key]()
    if not callable(criterion):
        raise TypeError(f"criterion must be a loss module, a callable (prediction, target) or a name, "
                        f"got {type(criterion).__name__}")
    return criterion


def _build_optimizer(spec, model: nn.Module, lr: float | None, momentum: float = 0.9) -> torch.optim.Optimizer:
    return _core.build_optimizer(spec, lr, momentum, optimizer_type=torch.optim.Optimizer,
                                 by_name=lambda name, rate, beta: make_optimizer(name, model.parameters(), rate, beta),
                                 from_factory=lambda factory, rate: factory(model.parameters(), rate),
                                 factory_shape="(params, lr)")


def _range_step(model: nn.Module, optimizer: torch.optim.Optimizer, criterion, loader) -> Callable[[float], float]:
    batches = cycle_batches(loader)
    device = _model_device(model)
    model.train()

    def step(lr: float) -> float:
        for group in optimizer.param_groups:
            group["lr"] = lr
        xb, yb = next(batches)
        optimizer.zero_grad(set_to_none=True)
        loss = _mean(criterion(model(xb.to(device)), yb.to(device)))
        loss.backward()
        optimizer.step()
        return loss.item()  # one sync per step is the point here: the sweep stops as soon as it diverges

    return step


def _mean(loss: torch.Tensor) -> torch.Tensor:
    """A per-sample loss (``reduction="none"``) averaged, as Keras reduces it: the two flavors agree."""
    return loss if loss.ndim == 0 else loss.mean()


def _grad(p: torch.Tensor) -> torch.Tensor:
    return p.grad if p.grad is not None else torch.zeros((), device=p.device)


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        raise ValueError("the model has no parameters to train") from None


FLAVOR = _core.Flavor("torch", set_seed, train_with_loss_tracking, _build_optimizer, _criterion, _range_step)


def zoo_run(bug: str | None, *, fixed: bool = False, seed: int = 0, **changes) -> TrainingHistory:
    """Train lecture 07's script with ``bug`` injected (or its fix); see `losslab.core.zoo`."""
    recipe = _zoo.recipe(bug, fixed=fixed, seed=seed, **changes)
    set_seed(seed)
    return _zoo.train(recipe, _ZooModel(recipe), "torch")


class _ZooModel:
    """The zoo's MLP and SGD in PyTorch, each bug written the way PyTorch code gets it wrong."""

    def __init__(self, r):
        self.r = r
        drop = [nn.Dropout(r.dropout)] if r.dropout else []
        self.net = nn.Sequential(nn.Linear(r.x_train.shape[1], r.hidden), nn.ReLU(), *drop,
                                 nn.Linear(r.hidden, r.hidden), nn.ReLU(), *drop, nn.Linear(r.hidden, r.outputs),
                                 *([nn.Softmax(dim=1)] if r.softmax_output else []))
        self.params = list(self.net.parameters())
        self.names = [n for n, _ in self.net.named_parameters()]
        trained = list(self.net[-1 - r.softmax_output].parameters()) if r.head_only else self.params
        self.optimizer = torch.optim.SGD(trained, lr=r.lr, momentum=r.momentum)

    def _loss(self, x, y) -> torch.Tensor:
        out = self.net(torch.as_tensor(x))
        y = torch.as_tensor(y)
        if self.r.task == "regress":
            with warnings.catch_warnings():  # the bug's broadcast warns once; the lecture says so in prose
                warnings.filterwarnings("ignore", "Using a target size", UserWarning)
                return nn.functional.mse_loss(out, y)  # broadcasts (N, 1) against (N,) with the bug
        return nn.functional.cross_entropy(out, y, reduction=self.r.reduction)

    def step(self, x, y, lr):
        self.net.train()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if not self.r.accumulate:
            self.optimizer.zero_grad()
        loss = self._loss(x, y)
        loss.backward()
        before = [p.detach().clone() for p in self.params]
        self.optimizer.step()
        with torch.no_grad():
            grads = [float(torch.linalg.vector_norm(_grad(p))) for p in self.params]
            updates = [float(torch.linalg.vector_norm(p - b)) for p, b in zip(self.params, before)]
            weights = [float(torch.linalg.vector_norm(b)) for b in before]
        return float(loss.detach()), np.asarray(grads), np.asarray(updates), np.asarray(weights)

    def loss(self, x, y, *, training=False):
        self.net.train(training)
        with torch.no_grad():
            return float(self._loss(x, y)) / (len(x) if self.r.reduction == "sum" else 1)

    def hidden(self, x):
        with torch.no_grad():
            return self.net[1](self.net[0](torch.as_tensor(x))).numpy()
