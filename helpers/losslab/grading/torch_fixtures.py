"""PyTorch fixtures for test cells: seeded models, loaders and training runs, and the scenarios that must run
where the student's code is (autograd through it, its optimizer stepped). torch is imported inside each one."""
from __future__ import annotations

from .student_code import with_student_code

__all__ = ["torch_regression_case", "torch_training_run", "torch_value_and_grad", "torch_optimizer_trace",
           "torch_grad_mode_probe"]


def torch_regression_case(*, seed: int, n_samples: int, batch_size: int, make_optimizer=None,
                          hidden_dim: int = 16, n_features: int = 5, train_ratio: float = 0.8):
    """A seeded (model, optimizer, train_loader, val_loader) on losslab's regression data.

    Two calls with the same arguments give identical starting points, so a student's loop and the reference
    loop can each run on their own copy. ``make_optimizer(params)`` builds the optimizer (None: no optimizer).
    """
    from losslab.torch import SimpleNet, create_data_loaders, generate_synthetic_data, set_seed

    set_seed(seed)
    X, y = generate_synthetic_data(n_samples=n_samples, n_features=n_features, seed=seed)
    train, val = create_data_loaders(X, y, train_ratio=train_ratio, batch_size=batch_size, seed=seed)
    model = SimpleNet(n_features, hidden_dim, 1)
    optimizer = make_optimizer(model.parameters()) if make_optimizer is not None else None
    return model, optimizer, train, val


def torch_training_run(*, seed: int, n_samples: int, lr: float, num_epochs: int, optimizer: str = "SGD",
                       batch_size: int = 32, train_ratio: float = 0.8, noise: float = 0.1, hidden_dim: int = 32):
    """A real training run of losslab's reference loop (SimpleNet, MSE) on its regression data: a TrainingHistory."""
    import torch
    from losslab.torch import (SimpleNet, create_data_loaders, generate_synthetic_data, set_seed,
                               train_with_loss_tracking)

    set_seed(seed)
    X, y = generate_synthetic_data(n_samples=n_samples, n_features=5, noise=noise, seed=seed)
    train, val = create_data_loaders(X, y, train_ratio=train_ratio, batch_size=batch_size, seed=seed)
    model = SimpleNet(5, hidden_dim, 1)
    opt = getattr(torch.optim, optimizer)(model.parameters(), lr=lr)
    return train_with_loss_tracking(model, train, val, torch.nn.MSELoss(), opt, num_epochs=num_epochs)


@with_student_code
def torch_value_and_grad(fn, *inputs):
    """(fn(*inputs), gradients of it with respect to every input that requires grad): a loss and its gradient,
    computed where fn lives, so that its autograd graph never has to cross between kernels."""
    import torch

    out = fn(*inputs)
    wrt = [x for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad]
    if not (isinstance(out, torch.Tensor) and out.requires_grad and wrt):
        return out, None
    return out, list(torch.autograd.grad(out, wrt))


@with_student_code
def torch_optimizer_trace(optimizer_cls, options: dict, model_fn, *, steps: int, seed: int, batch: int = 16):
    """Train a float64 copy of ``model_fn()`` with ``optimizer_cls(model.parameters(), **options)`` on seeded
    batches (MSE to sin of the row sums); the parameters after every step, as {name: array} per step."""
    import torch

    torch.manual_seed(seed)
    model = model_fn().double()
    optimizer = optimizer_cls(model.parameters(), **options)
    gen = torch.Generator().manual_seed(seed)
    trace = []
    for _ in range(steps):
        x = torch.randn(batch, model[0].in_features, generator=gen, dtype=torch.float64)
        y = x.sum(dim=1, keepdim=True).sin()
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        trace.append({name: p.detach().numpy().copy() for name, p in model.named_parameters()})
    return trace


def torch_grad_mode_probe(model):
    """model wrapped in a module whose buffer ``calls`` counts its forward passes: [all, with autograd on].

    The count lives in a buffer, so it comes back with the model's state after a call into student code."""
    import torch

    class GradModeProbe(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.register_buffer("calls", torch.zeros(2, dtype=torch.float64))

        def forward(self, *args, **kwargs):
            self.calls[0] += 1
            self.calls[1] += float(torch.is_grad_enabled())
            return self.inner(*args, **kwargs)

    return GradModeProbe(model)
