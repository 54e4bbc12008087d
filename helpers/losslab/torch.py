"""losslab for PyTorch: ``from losslab.torch import SimpleNet, train_with_loss_tracking, ...``.

Thin over the framework-free core: this module only knows how to run a PyTorch epoch and step; records,
plots, diagnosis, sweeps and the range test are shared with `losslab.tensorflow`.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .core.data import check_xy, make_regression, split_indices
from .core.history import TrainingHistory
from .core.loop import EpochResult, run_epochs, sweep
from .core.lr_range import RangeTestResult, run_range_test
from . import (identify_training_issues, plot_histories, plot_loss_curves,  # noqa: F401  (re-exported)
               plot_lr_comparison, plot_training_dashboard)

__all__ = [
    "SimpleNet", "generate_synthetic_data", "create_data_loaders", "train_with_loss_tracking",
    "plot_loss_curves", "compare_learning_rates", "identify_training_issues", "lr_range_test",
    "make_optimizer", "global_grad_norm", "set_seed", "lr_explorer", "plot_training_dashboard", "plot_histories",
    "plot_lr_comparison", "TrainingHistory",
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
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
                             track_grad_norm: bool = True, live_plot: bool = False, progress: bool = False,
                             device: str | torch.device | None = None) -> TrainingHistory:
    """Train ``model`` and return its `TrainingHistory`.

    Losses and gradient norms stay on the device in preallocated buffers and are copied to the host once
    per epoch, so a GPU is never stalled by a ``.item()`` per step. ``clip_grad_norm`` clips by global
    norm (norms are recorded before clipping). ``scheduler`` steps once per epoch (with the validation loss
    for ``ReduceLROnPlateau``). A NaN or Inf loss ends the run early; the record says where.
    """
    device = torch.device(device) if device is not None else _model_device(model)
    model.to(device)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    names, params = [n for n, _ in named], [p for _, p in named]
    measure = track_grad_norm or clip_grad_norm is not None
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be a positive number, got {clip_grad_norm}")

    def train_epoch(epoch: int) -> EpochResult:
        model.train()
        steps = len(train_loader)
        losses = torch.zeros(steps, device=device)
        norms = torch.zeros(steps, len(params), device=device) if measure else None
        sizes = np.zeros(steps)
        i = -1
        for i, (xb, yb) in enumerate(train_loader):
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(xb), yb)
            loss.backward()
            if measure:
                per_param = torch.stack(torch._foreach_norm([_grad(p) for p in params]))
                norms[i] = per_param
                if clip_grad_norm is not None:
                    scale = (clip_grad_norm / (torch.linalg.vector_norm(per_param) + 1e-6)).clamp(max=1.0)
                    torch._foreach_mul_([p.grad for p in params if p.grad is not None], scale)
            optimizer.step()
            losses[i] = loss.detach()
            sizes[i] = len(xb)
        n = i + 1
        return EpochResult(losses[:n].cpu().numpy(), sizes[:n],
                           norms[:n].cpu().numpy() if (norms is not None and track_grad_norm) else None)

    def validate() -> float:
        model.eval()
        total = torch.zeros((), device=device)
        count = 0
        with torch.no_grad():
            for xb, yb in val_loader:
                xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
                total += criterion(model(xb), yb) * len(xb)
                count += len(xb)
        return float(total) / max(count, 1)

    def end_epoch(epoch: int, val_loss: float | None) -> None:
        if scheduler is None:
            return
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(val_loss)
        else:
            scheduler.step()

    meta = {"optimizer": type(optimizer).__name__, "criterion": type(criterion).__name__,
            "clip_grad_norm": clip_grad_norm}
    return run_epochs(train_epoch, validate if val_loader is not None else None, num_epochs,
                      get_lr=lambda: optimizer.param_groups[0]["lr"], layer_names=names, end_epoch=end_epoch,
                      live_plot=live_plot, progress=progress, meta=meta, framework="torch")


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    """"sgd", "momentum" (SGD with ``momentum``) or "adam", by name, for sweeps and the widget."""
    name = name.lower()
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}: use 'sgd', 'momentum' or 'adam'")


def compare_learning_rates(learning_rates: Sequence[float], model_fn: Callable[[], nn.Module], train_loader,
                           val_loader, num_epochs: int = 100, *, criterion=None,
                           optimizer_fn: Callable[[Any, float], torch.optim.Optimizer] | None = None,
                           seed: int | None = 0, show: bool = True) -> dict[float, TrainingHistory]:
    """Train a fresh model per learning rate (same seed, same data) and plot the runs side by side."""
    criterion = criterion if criterion is not None else nn.MSELoss()
    optimizer_fn = optimizer_fn or (lambda params, lr: torch.optim.SGD(params, lr=lr))

    def train_one(lr: float) -> TrainingHistory:
        if seed is not None:
            torch.manual_seed(seed)
        model = model_fn()
        return train_with_loss_tracking(model, train_loader, val_loader, criterion,
                                        optimizer_fn(model.parameters(), lr), num_epochs)

    results = sweep(learning_rates, train_one)
    plot_lr_comparison(results, show=show)
    return results


def lr_range_test(model_fn: Callable[[], nn.Module], train_loader, criterion=None, *, start_lr: float = 1e-6,
                  end_lr: float = 10.0, num_iters: int = 100,
                  optimizer_fn: Callable[[Any, float], torch.optim.Optimizer] | None = None) -> RangeTestResult:
    """Smith's range test on a fresh model: one step per learning rate, cycling through the loader."""
    criterion = criterion if criterion is not None else nn.MSELoss()
    model = model_fn()
    optimizer = (optimizer_fn or (lambda p, lr: torch.optim.SGD(p, lr=lr)))(model.parameters(), start_lr)
    batches = _cycle(train_loader)
    model.train()

    def step(lr: float) -> float:
        for group in optimizer.param_groups:
            group["lr"] = lr
        xb, yb = next(batches)
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        return loss.item()  # one sync per step is the point here: the sweep stops as soon as it diverges

    return run_range_test(step, start_lr, end_lr, num_iters)


def lr_explorer(model_fn: Callable[[], nn.Module], train_loader, val_loader, criterion=None,
                num_epochs: int = 20, seed: int = 0, **kwargs):
    """The ipywidgets explorer: pick learning rate, optimizer and momentum; it retrains and redraws."""
    from .core.widgets import lr_explorer as _explorer

    criterion = criterion if criterion is not None else nn.MSELoss()

    def train_fn(lr: float, optimizer: str, momentum: float) -> TrainingHistory:
        torch.manual_seed(seed)
        model = model_fn()
        return train_with_loss_tracking(model, train_loader, val_loader, criterion,
                                        make_optimizer(optimizer, model.parameters(), lr, momentum), num_epochs)

    return _explorer(train_fn, **kwargs)


def _grad(p: torch.Tensor) -> torch.Tensor:
    return p.grad if p.grad is not None else torch.zeros((), device=p.device)


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        raise ValueError("the model has no parameters to train") from None


def _cycle(loader):
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("the training loader yields no batches")
