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
    arch: str = "mlp"            # "mlp" | "cnn" (8x8 digit images) | "gru" (sequences)
    schedule: str | None = None  # None | "cosine" | "step" | "warmup" (see `lr_factor`)
    label_noise: float = 0.0     # share of labels replaced by a uniformly random class (train and validation)

    @property
    def name(self) -> str:
        h = "x".join(map(str, self.hidden)) or "linear"
        wd = f"-wd{self.weight_decay:g}" if self.weight_decay else ""
        n = f"-n{self.n_train}" if self.n_train else ""
        extra = "".join([f"-{self.arch}" if self.arch != "mlp" else "", f"-{self.schedule}" if self.schedule else "",
                         f"-ln{self.label_noise:g}" if self.label_noise else ""])
        return f"{self.family}/{self.cause}/{h}-{self.act}-{self.optimizer}{self.lr:g}{wd}{n}{extra}-s{self.seed}"

    def lr_factor(self, epoch: int) -> float:
        """Learning-rate multiplier at the start of 0-based ``epoch``; one definition for both frameworks."""
        if self.schedule == "cosine":
            return 0.5 * (1 + np.cos(np.pi * epoch / self.epochs))
        if self.schedule == "step":
            return 0.1 ** (epoch // max(1, self.epochs // 2))
        if self.schedule == "warmup":  # linear warm-up over 5 epochs, then cosine decay to a tenth
            if epoch < 5:
                return (epoch + 1) / 5
            return 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * (epoch - 5) / max(1, self.epochs - 5)))
        return 1.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Data:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    classes: int   # 0 for regression (MSE), else the number of classes (cross-entropy on logits)
    floor: float = 0.0  # the lowest expected validation loss the data allows (its noise), known by construction


def load(spec: RunSpec) -> Data:
    """Make the data set of a run; every split and subsample is seeded by the run's seed."""
    floor = 0.0
    if spec.data == "digits":
        d = load_digits()
        X, y, classes = (d.data / 16.0).astype(np.float32), d.target.astype(np.int64), 10
        if spec.label_noise:
            y, floor = _noisy_labels(y, classes, spec.label_noise, spec.seed)
    elif spec.data == "regression":
        X, y = make_regression(1000, 10, noise=spec.noise, seed=spec.seed)
        classes, floor = 0, spec.noise ** 2
    elif spec.data == "nonlinear":
        X, y = _nonlinear(1000, spec.noise, spec.seed)
        classes, floor = 0, spec.noise ** 2
    elif spec.data == "sine":
        X, y = _sine_sequences(1000, 16, spec.noise, spec.seed)
        classes, floor = 0, spec.noise ** 2
    else:
        raise ValueError(f"unknown data family {spec.data!r}")
    tr, va = split_indices(len(X), 0.8, shuffle=True, seed=spec.seed)
    if spec.n_train:
        tr = tr[: spec.n_train]
    return Data(X[tr], y[tr], X[va], y[va], classes, floor)


def _noisy_labels(y: np.ndarray, classes: int, p: float, seed: int) -> tuple[np.ndarray, float]:
    """Replace a share ``p`` of the labels by a random class; the floor is the entropy of what remains."""
    rng = np.random.default_rng(seed + 2000)
    flip = rng.random(len(y)) < p
    y = np.where(flip, rng.integers(0, classes, len(y)), y).astype(np.int64)
    keep, other = 1 - p + p / classes, p / classes
    return y, float(-(keep * np.log(keep) + (classes - 1) * other * np.log(other)))


def _sine_sequences(n: int, steps: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sine waves of random frequency and phase (``steps`` values, flattened); target: the next value."""
    rng = np.random.default_rng(seed + 3000)
    freq, phase = rng.uniform(0.2, 0.8, (n, 1)), rng.uniform(0, 2 * np.pi, (n, 1))
    t = np.arange(steps + 1)[None, :]
    wave = np.sin(freq * t + phase) + noise * rng.standard_normal((n, steps + 1))
    return wave[:, :steps].astype(np.float32), wave[:, steps:].astype(np.float32)


def _nonlinear(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A target no linear model can fit: y = sin(2 x0) cos(x1) + 0.5 x0^2 - 0.5 (standardised)."""
    rng = np.random.default_rng(seed + 1000)
    X = rng.uniform(-2, 2, size=(n, 2))
    y = np.sin(2 * X[:, :1]) * np.cos(X[:, 1:]) + 0.5 * X[:, :1] ** 2 - 0.5
    y = (y - y.mean()) / y.std() + noise * rng.standard_normal((n, 1))
    return X.astype(np.float32), y.astype(np.float32)


#: Seeds of the development set (tuning and leave-one-family-out read only these) and of the frozen test
#: split (read only by ``evaluate.py --frozen``, never by ``tune.py``).
DEV_SEEDS, FROZEN_SEEDS = (0, 1, 2, 3, 4, 5), (6, 7, 8, 9)


def specs(seeds: tuple[int, ...] = DEV_SEEDS, families: tuple[str, ...] | None = None) -> list[RunSpec]:
    """Every planned run: each family x its causes x seeds x a few settings (``families`` picks some)."""
    out: list[RunSpec] = []
    for seed in seeds:
        for s in _family_specs() + _new_family_specs():
            if families is None or s.family in families:
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


def _new_family_specs() -> list[RunSpec]:
    """Families added for issue 14: other models, noisy data, sequences and schedules."""
    C = dict(family="digits_cnn", data="digits", arch="cnn", hidden=(8,), epochs=20, batch_size=64)
    M = dict(family="deep_mlp", data="regression", hidden=(64, 64, 64, 64), epochs=25, batch_size=64)
    Q = dict(family="sine_gru", data="sine", arch="gru", hidden=(16,), epochs=20, batch_size=64)
    Y = dict(family="noisy_labels", data="digits", label_noise=0.4, hidden=(64,), epochs=20, batch_size=64)
    E = dict(family="noise_floor_regression", data="regression", noise=1.2, hidden=(32,), epochs=25, batch_size=64)
    W = dict(family="scheduled_mlp", data="regression", hidden=(64,), epochs=30, batch_size=64)
    T = dict(family="tiny_mlp", data="digits", hidden=(4, 4), epochs=80, batch_size=64)
    return [
        # a small CNN on the 8x8 digit images (one 3x3 convolution with ``hidden[0]`` filters)
        RunSpec(**C, cause="healthy", optimizer="adam", lr=3e-3),
        RunSpec(**C, cause="healthy", optimizer="momentum", lr=0.03),
        RunSpec(**C, cause="diverging", optimizer="sgd", lr=30.0),
        RunSpec(**{**C, "batch_size": 16}, cause="oscillation", optimizer="adam", lr=0.05),
        RunSpec(**C, cause="slow_convergence", optimizer="sgd", lr=3e-3),
        RunSpec(**{**C, "epochs": 60, "hidden": (32,)}, cause="overfitting", optimizer="adam", lr=3e-3, n_train=40),
        RunSpec(**{**C, "hidden": (1,)}, cause="underfitting", optimizer="adam", lr=1e-2),
        # a deeper MLP (four hidden layers) on the regression data
        RunSpec(**M, cause="healthy", optimizer="adam", lr=1e-3),
        RunSpec(**M, cause="diverging", optimizer="momentum", lr=0.3),
        RunSpec(**{**M, "batch_size": 16}, cause="oscillation", optimizer="adam", lr=0.02),
        RunSpec(**M, cause="slow_convergence", optimizer="sgd", lr=2e-4),
        RunSpec(**{**M, "epochs": 80}, cause="overfitting", optimizer="adam", lr=1e-3, n_train=30, noise=0.5),
        RunSpec(**M, cause="underfitting", optimizer="adamw", lr=3e-3, weight_decay=50.0),
        # a small recurrent model (GRU) predicting the next value of a noisy sine wave
        RunSpec(**Q, cause="healthy", optimizer="adam", lr=1e-2),
        RunSpec(**Q, cause="slow_convergence", optimizer="adam", lr=1e-4),
        RunSpec(**{**Q, "batch_size": 16}, cause="oscillation", optimizer="sgd", lr=1.0),
        RunSpec(**{**Q, "hidden": (1,)}, cause="underfitting", optimizer="adam", lr=1e-2),
        RunSpec(**Q, cause="diverging", optimizer="sgd", lr=50.0),
        # classification with 40 % random labels: the loss cannot fall below the labels' entropy
        RunSpec(**Y, cause="healthy", optimizer="adam", lr=1e-3),
        RunSpec(**Y, cause="healthy", optimizer="momentum", lr=0.01),
        RunSpec(**Y, cause="slow_convergence", optimizer="adam", lr=3e-5),
        RunSpec(**{**Y, "hidden": (512,), "epochs": 60, "n_train": 200}, cause="overfitting", optimizer="adam",
                lr=3e-3),
        RunSpec(**{**Y, "hidden": (1,)}, cause="underfitting", optimizer="adam", lr=1e-2),
        RunSpec(**{**Y, "batch_size": 16}, cause="oscillation", optimizer="sgd", lr=2.0),
        # regression where most of the target's variance is noise (floor 1.44 of a total near 2.5)
        RunSpec(**E, cause="healthy", optimizer="adam", lr=3e-3),
        RunSpec(**E, cause="healthy", optimizer="sgd", lr=0.02),
        RunSpec(**E, cause="slow_convergence", optimizer="sgd", lr=3e-4),
        RunSpec(**E, cause="underfitting", optimizer="adamw", lr=1e-2, weight_decay=100.0),
        RunSpec(**{**E, "hidden": (256, 256), "epochs": 80}, cause="overfitting", optimizer="adam", lr=1e-3,
                n_train=40),
        RunSpec(**E, cause="diverging", optimizer="sgd", lr=1.0),
        # schedules and warm-up (the frameworks' own per-epoch schedulers, `RunSpec.lr_factor`)
        RunSpec(**W, cause="healthy", optimizer="adam", lr=1e-2, schedule="warmup"),
        RunSpec(**W, cause="healthy", optimizer="sgd", lr=0.1, schedule="step"),
        RunSpec(**W, cause="healthy", optimizer="momentum", lr=0.03, schedule="cosine"),
        RunSpec(**W, cause="diverging", optimizer="sgd", lr=1.0, schedule="warmup"),
        RunSpec(**{**W, "batch_size": 16}, cause="oscillation", optimizer="adam", lr=0.05, schedule="warmup"),
        RunSpec(**W, cause="slow_convergence", optimizer="sgd", lr=3e-4, schedule="warmup"),
        RunSpec(**{**W, "hidden": (256, 256), "epochs": 80}, cause="overfitting", optimizer="adam", lr=3e-3,
                n_train=30, noise=0.5, schedule="step"),
        RunSpec(**W, cause="underfitting", optimizer="adamw", lr=1e-2, weight_decay=30.0, schedule="cosine"),
        # networks too narrow for ten digits, trained long enough to creep to their limit (and a wide twin)
        RunSpec(**T, cause="underfitting", optimizer="adam", lr=1e-2),
        RunSpec(**{**T, "hidden": (3,), "epochs": 60}, cause="underfitting", optimizer="adam", lr=1e-2),
        RunSpec(**{**T, "hidden": (32, 32), "epochs": 20}, cause="healthy", optimizer="adam", lr=3e-3),
        RunSpec(**{**T, "hidden": (32, 32), "epochs": 20}, cause="slow_convergence", optimizer="sgd", lr=5e-3),
    ]
