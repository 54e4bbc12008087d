"""Data made in code (numpy), so no lecture or assignment downloads anything at run time."""
from __future__ import annotations

import numpy as np


def _rng(seed: int | None) -> np.random.Generator | np.random.RandomState:
    # seed=None follows numpy's global state, so `np.random.seed(42)` in a notebook makes the data repeatable.
    return np.random.default_rng(seed) if seed is not None else np.random.mtrand._rand


def make_regression(n_samples: int = 1000, n_features: int = 10, noise: float = 0.1,
                    seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A regression task: a linear signal plus a mild nonlinearity, so an MLP beats a linear model.

    Returns ``X`` of shape (n_samples, n_features) and ``y`` of shape (n_samples, 1), float32, with
    ``y = X @ w + 0.5 * sin(2 * X @ v) + noise * eps``; ``w`` and ``v`` are drawn once from the same seed.
    """
    if int(n_samples) < 2:
        raise ValueError(f"n_samples must be at least 2 (one train and one validation sample), got {n_samples}")
    if int(n_features) < 1:
        raise ValueError(f"n_features must be at least 1, got {n_features}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    rng = _rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    w = rng.standard_normal((n_features, 1)) / np.sqrt(n_features)
    v = rng.standard_normal((n_features, 1)) / np.sqrt(n_features)
    y = X @ w + 0.5 * np.sin(2.0 * (X @ v)) + noise * rng.standard_normal((n_samples, 1))
    return X.astype(np.float32), y.astype(np.float32)


def check_xy(X, y) -> int:
    """Return the number of samples, or say clearly why X and y cannot be paired."""
    n_x, n_y = len(X), len(y)
    if n_x != n_y:
        raise ValueError(f"X and y have different lengths ({n_x} vs {n_y} samples): "
                         "each input row needs exactly one target")
    if n_x == 0:
        raise ValueError("X and y are empty: there is nothing to train on")
    return n_x


def split_indices(n: int, train_ratio: float = 0.8, shuffle: bool = True,
                  seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a train/validation split; both parts must be non-empty."""
    if not isinstance(train_ratio, (int, float)) or not 0.0 < float(train_ratio) < 1.0:
        raise ValueError(f"train_ratio must lie strictly between 0 and 1, got {train_ratio!r}")
    n_train = int(round(n * float(train_ratio)))
    if n_train < 1 or n - n_train < 1:
        raise ValueError(f"a train_ratio of {train_ratio} on {n} samples leaves "
                         f"{n_train} training and {n - n_train} validation samples; both sets need at least one: "
                         "use more samples or a ratio nearer 0.5")
    order = _rng(seed).permutation(n) if shuffle else np.arange(n)
    return order[:n_train], order[n_train:]
