"""Real training runs for the plotting tests: numpy (minibatch) gradient descent on least squares.

Every curve here is computed by an optimizer on data, never drawn from random numbers directly.
"""
from __future__ import annotations

import numpy as np
import pytest


def train_least_squares(lr: float = 0.05, epochs: int = 30, *, optimizer: str = "sgd", momentum: float = 0.9,
                        n_train: int = 40, n_val: int = 200, n_features: int = 30, noise: float = 0.5,
                        batch_size: int = 10, seed: int = 0) -> dict[str, list[float]]:
    """Fit y = Xw by minibatch SGD / momentum / Adam on a mean-squared error; a dict history.

    With more features than the train set supports, the validation loss falls and then rises while the
    training loss keeps falling (overfitting); with a too-large lr the loss overflows (a NaN/Inf stop).
    """
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=n_features) / np.sqrt(n_features)
    X = rng.normal(size=(n_train + n_val, n_features))
    y = X @ w_true + noise * rng.normal(size=n_train + n_val)
    Xt, yt, Xv, yv = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    w = np.zeros(n_features)
    m = np.zeros(n_features)
    v = np.zeros(n_features)
    hist: dict[str, list[float]] = {k: [] for k in ("train_loss", "val_loss", "iter_loss", "grad_norm",
                                                     "iter_grad_norm", "lr")}
    step = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(epochs):
            order = rng.permutation(n_train)
            losses, norms = [], []
            for start in range(0, n_train, batch_size):
                idx = order[start:start + batch_size]
                r = Xt[idx] @ w - yt[idx]
                loss = float(np.mean(r**2))
                g = 2 * Xt[idx].T @ r / idx.size
                step += 1
                if optimizer == "adam":
                    m = 0.9 * m + 0.1 * g
                    v = 0.999 * v + 0.001 * g**2
                    w = w - lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
                elif optimizer == "momentum":
                    m = momentum * m + g
                    w = w - lr * m
                else:
                    w = w - lr * g
                losses.append(loss)
                norms.append(float(np.linalg.norm(g)))
            hist["iter_loss"] += losses
            hist["iter_grad_norm"] += norms
            hist["train_loss"].append(float(np.mean(losses)))
            hist["val_loss"].append(float(np.mean((Xv @ w - yv) ** 2)))
            hist["grad_norm"].append(float(np.mean(norms)))
            hist["lr"].append(lr)
            if not np.isfinite(hist["train_loss"][-1]):
                hist["stop_reason"] = "non-finite loss"
                break
    return hist


@pytest.fixture
def train_run():
    return train_least_squares


def gd_quadratic_losses(n_steps: int, lr: float = 0.1, curvatures=(1.0, 0.05, 0.002),
                        start=(3.0, -2.0, 1.5)) -> np.ndarray:
    """Loss of full-batch gradient descent on f(w) = 1/2 sum(c_i w_i^2), for every step, in closed form.

    GD multiplies each coordinate by (1 - lr*c_i) per step, so step t's loss is exact without a loop:
    a real optimizer trajectory of any length (10^7 steps in well under a second).
    """
    t = np.arange(n_steps, dtype=float)
    loss = np.zeros(n_steps)
    for c, w0 in zip(curvatures, start):
        loss += 0.5 * c * w0**2 * np.exp(2 * t * np.log(abs(1 - lr * c)))
    return loss


@pytest.fixture
def gd_losses():
    return gd_quadratic_losses
