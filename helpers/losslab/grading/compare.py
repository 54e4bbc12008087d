"""Framework-free assertions: a student's result against a reference within stated tolerances, with messages
that say what differs. Tensors from torch or TensorFlow are converted by duck typing, never by importing either."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["to_numpy", "check_close", "check_true", "check_type", "check_label", "is_finite_number"]


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
