"""The model/data families and the controlled causes of the labelled runs.

Each `RunSpec` is one training run: a data family, a model, an optimizer setting and the cause we put in
(e.g. a learning rate far too high). The cause is only the *intended* label: `checks.py` verifies it on the
run itself before the run enters the data set.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.datasets import load_digits

from losslab.core.data import make_regression, split_indices


@dataclass(frozen=True)
class RunSpec:
    family: str            # data + model family: regression, digits, nonlinear_linear, deep_sigmoid ...
    cause: str             # intended label (a diagnosis label)
    data: str              # "regression" | "digits" | "nonlinear"
    hidden: tuple[int, ...] = (64,)
    act: str = "relu"
    optimizer: str = "sgd"   # "sgd" | "momentum" | "adam" | "adamw"
    lr: float = 0.01
    weight_decay: float = 0.0
    epochs: int = 30
    batch_size: int = 32
    n_train: int | None = None   # None: the whole 80 % split; a number: a tiny training set
    noise: float = 0.1
    seed: int = 0

    @property
    def name(self) -> str:
        h = "x".join(map(str, self.hidden)) or "linear"
        wd = f"-wd{self.weight_decay:g}" if self.weight_decay else ""
        n = f"-n{self.n_train}" if self.n_train else ""
        return f"{self.family}/{self.cause}/{h}-{self.act}-{self.optimizer}{self.lr:g}{wd}{n}-s{self.seed}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Data:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    classes: int   # 0 for regression (MSE), else the number of classes (cross-entropy on logits)


def load(spec: RunSpec) -> Data:
    """Make the data set of a run; every split and subsample is seeded by the run's seed."""
    if spec.data == "digits":
        d = load_digits()
        X, y, classes = (d.data / 16.0).astype(np.float32), d.target.astype(np.int64), 10
    elif spec.data == "regression":
        X, y = make_regression(1000, 10, noise=spec.noise, seed=spec.seed)
        classes = 0
    elif spec.data == "nonlinear":
        X, y = _nonlinear(1000, spec.noise, spec.seed)
        classes = 0
    else:
        raise ValueError(f"unknown data family {spec.data!r}")
    tr, va = split_indices(len(X), 0.8, shuffle=True, seed=spec.seed)
    if spec.n_train:
        tr = tr[: spec.n_train]
    return Data(X[tr], y[tr], X[va], y[va], classes)


def _nonlinear(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A target no linear model can fit: y = sin(2 x0) cos(x1) + 0.5 x0^2 - 0.5 (standardised)."""
    rng = np.random.default_rng(seed + 1000)
    X = rng.uniform(-2, 2, size=(n, 2))
    y = np.sin(2 * X[:, :1]) * np.cos(X[:, 1:]) + 0.5 * X[:, :1] ** 2 - 0.5
    y = (y - y.mean()) / y.std() + noise * rng.standard_normal((n, 1))
    return X.astype(np.float32), y.astype(np.float32)


def specs(seeds: tuple[int, ...] = (0, 1, 2)) -> list[RunSpec]:
    """Every planned run: four families x seven causes (where a cause applies) x seeds x a few settings."""
    out: list[RunSpec] = []
    for seed in seeds:
        for s in _family_specs():
            out.append(RunSpec(**{**s.to_dict(), "seed": seed}))
    return out


def _family_specs() -> list[RunSpec]:
    R = dict(family="regression_mlp", data="regression", hidden=(64,), epochs=30, batch_size=64)
    D = dict(family="digits_mlp", data="digits", hidden=(64,), epochs=25, batch_size=128)
    L = dict(family="nonlinear_linear", data="nonlinear", hidden=(), epochs=30, batch_size=64)
    N = dict(family="nonlinear_mlp", data="nonlinear", hidden=(64, 64), epochs=30, batch_size=64)
    S = dict(family="deep_sigmoid", data="digits", hidden=(32,) * 8, act="sigmoid", epochs=20, batch_size=32)
    return [
        # regression MLP (the seed assignment's SimpleNet shape on losslab's synthetic data)
        RunSpec(**R, cause="healthy", optimizer="sgd", lr=0.05),
        RunSpec(**R, cause="healthy", optimizer="adam", lr=3e-3),
        RunSpec(**R, cause="diverging", optimizer="sgd", lr=1.0),
        RunSpec(**R, cause="diverging", optimizer="momentum", lr=0.3),
        RunSpec(**R, cause="oscillation", optimizer="adam", lr=0.05),
        RunSpec(**R, cause="oscillation", optimizer="momentum", lr=0.1),
        RunSpec(**R, cause="slow_convergence", optimizer="sgd", lr=1e-4),
        RunSpec(**R, cause="slow_convergence", optimizer="sgd", lr=3e-4),
        RunSpec(**{**R, "hidden": (256, 256), "epochs": 100}, cause="overfitting", optimizer="adam", lr=1e-3,
                n_train=24, noise=0.5),
        RunSpec(**{**R, "hidden": (512,), "epochs": 120}, cause="overfitting", optimizer="momentum", lr=0.05,
                n_train=32, noise=1.0),
        RunSpec(**R, cause="underfitting", optimizer="adamw", lr=1e-2, weight_decay=30.0),
        RunSpec(**R, cause="underfitting", optimizer="adamw", lr=3e-3, weight_decay=100.0),
        # digits classifier (cross-entropy on logits)
        RunSpec(**D, cause="healthy", optimizer="adam", lr=3e-3),
        RunSpec(**D, cause="healthy", optimizer="momentum", lr=0.03),
        RunSpec(**D, cause="diverging", optimizer="sgd", lr=20.0),
        RunSpec(**D, cause="diverging", optimizer="adam", lr=1.0),
        RunSpec(**{**D, "batch_size": 32}, cause="oscillation", optimizer="adam", lr=0.05),
        RunSpec(**{**D, "batch_size": 32}, cause="oscillation", optimizer="sgd", lr=1.0),
        RunSpec(**D, cause="slow_convergence", optimizer="sgd", lr=0.01),
        RunSpec(**D, cause="slow_convergence", optimizer="adam", lr=1e-4),
        RunSpec(**{**D, "hidden": (512,), "epochs": 100}, cause="overfitting", optimizer="adam", lr=3e-3, n_train=40),
        RunSpec(**{**D, "hidden": (256, 256), "epochs": 150}, cause="overfitting", optimizer="adam", lr=1e-3,
                n_train=60),
        RunSpec(**{**D, "hidden": (2,)}, cause="underfitting", optimizer="adam", lr=1e-2),
        RunSpec(**D, cause="underfitting", optimizer="adamw", lr=1e-2, weight_decay=20.0),
        # a linear model on a nonlinear target (underfits by construction) and an MLP on the same data
        RunSpec(**L, cause="underfitting", optimizer="adam", lr=1e-2),
        RunSpec(**L, cause="underfitting", optimizer="sgd", lr=0.05),
        RunSpec(**L, cause="diverging", optimizer="sgd", lr=3.0),
        RunSpec(**L, cause="slow_convergence", optimizer="sgd", lr=2e-4),
        RunSpec(**N, cause="healthy", optimizer="adam", lr=3e-3),
        RunSpec(**N, cause="oscillation", optimizer="adam", lr=0.05),
        RunSpec(**N, cause="oscillation", optimizer="momentum", lr=0.2),
        RunSpec(**N, cause="slow_convergence", optimizer="sgd", lr=3e-4),
        RunSpec(**{**N, "epochs": 120}, cause="overfitting", optimizer="adam", lr=3e-3, n_train=20, noise=0.5),
        # a deep sigmoid MLP (saturating activations: vanishing gradients) and its ReLU twin
        RunSpec(**S, cause="vanishing_gradients", optimizer="sgd", lr=0.1),
        RunSpec(**S, cause="vanishing_gradients", optimizer="momentum", lr=0.01),
        RunSpec(**{**S, "act": "relu"}, cause="healthy", optimizer="adam", lr=3e-3),
    ]
