"""Assertions for autograded test cells: compare a student's result to a reference within stated tolerances.

Test cells import these under private names in every cell (``from losslab.grading import check_close as
_check_close``), so a student who rebinds ``np``, ``assert_allclose`` or a losslab name changes nothing here.
Framework-free: tensors from torch or TensorFlow are converted by duck typing, never by importing either.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

__all__ = ["to_numpy", "check_close", "check_true", "check_type", "check_label", "is_finite_number",
           "torch_regression_case", "torch_training_run", "keras_twin", "keras_gradients", "with_student_code",
           "torch_value_and_grad", "torch_optimizer_trace", "torch_grad_mode_probe", "keras_fit_with_callback"]


def with_student_code(helper: Callable[..., Any]) -> Callable[..., Any]:
    """A helper whose scenario runs where the student's code is, returning data only.

    In a student's notebook it simply runs. In the autograder, test cells run in a separate verdict kernel where
    the student's functions and classes are stand-ins (objects with ``__lsbx_call__``); given one, the helper
    runs in the student's kernel with the real ones and only its result, as data, comes back to be compared.
    Use it for what cannot cross as data: autograd through a student's function, a student's class instantiated
    and stepped, a student's Keras callback inside ``fit``.
    """
    @functools.wraps(helper)
    def run(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            remote = getattr(type(value), "__lsbx_call__", None)
            if remote is not None:
                return remote(value, run, args, kwargs)
        return helper(*args, **kwargs)

    return run


def to_numpy(value: Any) -> np.ndarray:
    """A float64 array of a tensor (torch or TensorFlow), array, list or number."""
    if hasattr(value, "detach"):  # torch.Tensor
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tf.Tensor / tf.Variable
        value = value.numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"expected numbers, got {type(value).__name__}: {value!r:.200}") from None


def check_close(actual: Any, expected: Any, *, rtol: float, atol: float, what: str) -> None:
    """Fail unless ``actual`` has ``expected``'s shape and |actual - expected| <= atol + rtol * |expected|."""
    try:
        a, e = to_numpy(actual), to_numpy(expected)
    except AssertionError as err:
        raise AssertionError(f"{what}: {err}") from None
    tol = f"(tolerance: rtol={rtol:g}, atol={atol:g})"
    if a.shape != e.shape:
        if a.size == e.size == 1:
            a, e = a.reshape(()), e.reshape(())
        else:
            raise AssertionError(f"{what}: expected shape {e.shape}, got shape {a.shape}")
    if not np.array_equal(np.isnan(a), np.isnan(e)):
        raise AssertionError(f"{what}: NaN where the reference has a number (or the reverse) {tol}")
    ok = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        i = int(bad[0])
        diff = np.abs(a - e)
        raise AssertionError(
            f"{what}: {bad.size} of {a.size} values differ from the reference {tol}; "
            f"first at flat index {i}: got {a.flat[i]:.8g}, expected {e.flat[i]:.8g}; "
            f"largest difference {np.nanmax(diff):.3g}")


def check_true(condition: Any, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise AssertionError(message)


def check_type(value: Any, types: type | tuple[type, ...], what: str) -> None:
    """Fail unless ``value`` is an instance of ``types``."""
    if not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise AssertionError(f"{what}: expected {names}, got {type(value).__name__}")


def check_label(actual: Any, expected: str, what: str) -> None:
    """Fail unless ``actual`` is the string ``expected``."""
    if not isinstance(actual, str) or actual != expected:
        raise AssertionError(f"{what}: expected the label {expected!r}, got {actual!r}")


def is_finite_number(value: Any) -> bool:
    """True for a finite Python or numpy real number (not a tensor, not a bool)."""
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool) \
        and math.isfinite(float(value))


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


def keras_twin(model, optimizer, loss):
    """A copy of a built Keras model (same weights), compiled with ``optimizer`` and ``loss``.

    Replaying a student's training with ``twin.train_on_batch`` gives the reference from Keras' own training
    step, without writing the GradientTape code the student is asked for.
    """
    import keras

    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    twin.compile(optimizer=optimizer, loss=loss, run_eagerly=True)  # one-off steps: tracing would cost more
    return twin


def keras_gradients(model, loss, x, y):
    """Keras' own (loss, gradients) of ``model`` on one batch, read off one SGD step of rate 1 on a twin."""
    import keras

    twin = keras_twin(model, keras.optimizers.SGD(learning_rate=1.0), loss)
    before = [v.numpy().astype(np.float64) for v in twin.trainable_variables]
    value = float(twin.train_on_batch(x, y))
    return value, [b - v.numpy().astype(np.float64) for b, v in zip(before, twin.trainable_variables)]


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


@with_student_code
def keras_fit_with_callback(callback_cls, build_model, x, y, **fit_kwargs):
    """Fit ``build_model()`` (compiled) on x, y with ``callback_cls()`` appended to the callbacks (None: none);
    (the callback's ``history``, fit's own History.history)."""
    callback = callback_cls() if callback_cls is not None else None
    callbacks = list(fit_kwargs.pop("callbacks", [])) + ([callback] if callback is not None else [])
    fit = build_model().fit(x, y, callbacks=callbacks, verbose=0, **fit_kwargs)
    return (callback.history if callback is not None else None), {k: list(v) for k, v in fit.history.items()}
