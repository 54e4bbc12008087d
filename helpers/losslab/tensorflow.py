"""losslab for TensorFlow/Keras: ``from losslab.tensorflow import SimpleNet, train_with_loss_tracking, ...``.

The same names as `losslab.torch`, with Keras models, losses and optimizers and tf.data underneath. Each
step is one ``tf.function``; its loss and gradient norms stay tensors until the epoch ends and are stacked
and copied to the host once. `LossHistory` fills the same record during ``model.fit``.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import keras

from .core.data import check_xy, make_regression, split_indices
from .core.history import TrainingHistory
from .core.loop import EpochResult, record_epoch, run_epochs, sweep
from .core.lr_range import RangeTestResult, run_range_test
from . import (identify_training_issues, plot_histories, plot_loss_curves,  # noqa: F401  (re-exported)
               plot_lr_comparison, plot_training_dashboard)

__all__ = [
    "SimpleNet", "generate_synthetic_data", "create_data_loaders", "train_with_loss_tracking",
    "plot_loss_curves", "compare_learning_rates", "identify_training_issues", "lr_range_test",
    "make_optimizer", "global_grad_norm", "set_seed", "lr_explorer", "plot_training_dashboard", "plot_histories",
    "plot_lr_comparison", "LossHistory", "TrainingHistory",
]


class SimpleNet(keras.Model):
    """A two-hidden-layer ReLU MLP, the twin of `losslab.torch.SimpleNet` (built on creation)."""

    def __init__(self, input_dim: int, hidden_dim: int = 64, output_dim: int = 1, dropout: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.hidden1 = keras.layers.Dense(hidden_dim, activation="relu", name="hidden1")
        self.hidden2 = keras.layers.Dense(hidden_dim, activation="relu", name="hidden2")
        self.out = keras.layers.Dense(output_dim, name="out")
        self.dropout = keras.layers.Dropout(dropout) if dropout else None
        self.build((None, self.input_dim))

    def build(self, input_shape):
        shape = tuple(input_shape)
        self.hidden1.build(shape)
        self.hidden2.build(shape[:-1] + (self.hidden1.units,))
        self.out.build(shape[:-1] + (self.hidden2.units,))
        super().build(input_shape)

    def call(self, x, training: bool = False):
        h = self.hidden1(x)
        if self.dropout is not None:
            h = self.dropout(h, training=training)
        h = self.hidden2(h)
        if self.dropout is not None:
            h = self.dropout(h, training=training)
        return self.out(h)

    def __repr__(self) -> str:
        return (f"SimpleNet(input_dim={self.input_dim}, hidden_dim={self.hidden1.units}, "
                f"output_dim={self.out.units}, params={self.count_params()})")


def set_seed(seed: int) -> None:
    """Seed Python, numpy and TensorFlow (Keras' own seeding) so a run repeats on the CPU."""
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def generate_synthetic_data(n_samples: int = 1000, n_features: int = 10, noise: float = 0.1,
                            seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The core regression task as float32 numpy arrays: X (n, n_features), y (n, 1)."""
    return make_regression(n_samples, n_features, noise, seed)


def create_data_loaders(X, y, train_ratio: float = 0.8, batch_size: int = 32, shuffle: bool = True,
                        seed: int | None = None) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Split X, y into batched training and validation datasets (``len()`` gives the number of batches)."""
    n = check_xy(X, y)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    X, y = np.asarray(X), np.asarray(y)
    train_idx, val_idx = split_indices(n, train_ratio, shuffle, seed)
    train = tf.data.Dataset.from_tensor_slices((X[train_idx], y[train_idx]))
    if shuffle:
        train = train.shuffle(len(train_idx), seed=seed, reshuffle_each_iteration=True)
    val = tf.data.Dataset.from_tensor_slices((X[val_idx], y[val_idx]))
    return train.batch(batch_size), val.batch(batch_size)


def global_grad_norm(grads: Sequence[tf.Tensor | None]) -> tf.Tensor:
    """L2 norm of all gradients taken together (``tf.linalg.global_norm``, skipping missing ones)."""
    return tf.linalg.global_norm([g for g in grads if g is not None])


def train_with_loss_tracking(model: keras.Model, train_loader, val_loader, criterion, optimizer,
                             num_epochs: int = 10, *, scheduler: Callable[[int, float], float] | None = None,
                             clip_grad_norm: float | None = None, track_grad_norm: bool = True,
                             live_plot: bool = False, progress: bool = False) -> TrainingHistory:
    """Train a Keras model with a custom loop and return its `TrainingHistory`.

    ``criterion`` and ``optimizer`` are Keras objects (or their names, e.g. "mse", "adam").
    ``scheduler(epoch, lr) -> lr`` sets the learning rate at the start of each epoch, like Keras'
    ``LearningRateScheduler``; a ``LearningRateSchedule`` inside the optimizer works as well.
    """
    criterion = keras.losses.get(criterion)
    optimizer = keras.optimizers.get(optimizer)
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be a positive number, got {clip_grad_norm}")
    variables = model.trainable_variables
    if not variables:
        raise ValueError("the model has no trainable variables: build it (call it once) before training")
    optimizer.build(variables)
    measure = track_grad_norm or clip_grad_norm is not None
    clip = float(clip_grad_norm) if clip_grad_norm is not None else 0.0

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = criterion(yb, model(xb, training=True))
            total_loss = loss + tf.add_n(model.losses) if model.losses else loss
        grads = tape.gradient(total_loss, variables)
        grads = [g if g is not None else tf.zeros_like(v) for g, v in zip(grads, variables)]
        per_var = tf.stack([tf.norm(tf.cast(g, tf.float32)) for g in grads]) if measure else tf.zeros((0,))
        if clip_grad_norm is not None:
            grads, _ = tf.clip_by_global_norm(grads, clip, use_norm=tf.norm(per_var))
        optimizer.apply_gradients(zip(grads, variables))
        return tf.cast(loss, tf.float32), per_var

    @tf.function
    def validate_graph(dataset):
        total, count = tf.constant(0.0), tf.constant(0.0)
        for xb, yb in dataset:
            n = tf.cast(tf.shape(xb)[0], tf.float32)
            total += tf.cast(criterion(yb, model(xb, training=False)), tf.float32) * n
            count += n
        return total / tf.maximum(count, 1.0)

    def train_epoch(epoch: int) -> EpochResult:
        if scheduler is not None:
            optimizer.learning_rate = float(scheduler(epoch, _current_lr(optimizer)))
        losses, norms, sizes = [], [], []
        for xb, yb in train_loader:  # step outputs stay tensors (on the device) until the epoch ends
            loss, per_var = train_step(xb, yb)
            losses.append(loss)
            norms.append(per_var)
            sizes.append(len(xb))
        if not losses:
            raise ValueError("the training dataset yields no batches")
        return EpochResult(tf.stack(losses).numpy(), np.asarray(sizes),
                           tf.stack(norms).numpy() if track_grad_norm else None)

    meta = {"optimizer": type(optimizer).__name__,
            "criterion": type(criterion).__name__, "clip_grad_norm": clip_grad_norm}
    return run_epochs(train_epoch, (lambda: float(validate_graph(val_loader))) if val_loader is not None else None,
                      num_epochs, get_lr=lambda: _current_lr(optimizer),
                      layer_names=[v.path for v in variables], live_plot=live_plot, progress=progress, meta=meta,
                      framework="tensorflow")


class LossHistory(keras.callbacks.Callback):
    """A Keras callback that fills a `TrainingHistory` during ``model.fit`` (``callback.history``).

    Keras reports a running mean of the loss at each batch end; the per-batch loss is recovered from
    consecutive means (exact when batches have equal size, the last batch of an epoch aside).
    """

    def __init__(self):
        super().__init__()
        self.history = TrainingHistory(meta={"source": "keras.fit"}, framework="tensorflow")
        self._means: list[float] = []
        self._lr = float("nan")

    def on_epoch_begin(self, epoch, logs=None):
        self._means = []
        self._lr = _current_lr(self.model.optimizer)

    def on_train_batch_end(self, batch, logs=None):
        self._means.append(float((logs or {}).get("loss", np.nan)))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        means = np.asarray(self._means, dtype=float)
        steps = np.arange(1, len(means) + 1)
        per_batch = means * steps - np.concatenate([[0.0], (means * steps)[:-1]])
        record_epoch(self.history, EpochResult(per_batch, np.ones_like(per_batch)), ())
        if self.history.stopped_early or not np.isfinite(logs.get("loss", 0.0)):
            self.model.stop_training = True
        if len(means):
            self.history.train_loss[-1] = float(logs.get("loss", self.history.train_loss[-1]))
        if "val_loss" in logs:
            self.history.val_loss.append(float(logs["val_loss"]))
        self.history.lr.append(self._lr)


def make_optimizer(name: str, lr: float, momentum: float = 0.9) -> keras.optimizers.Optimizer:
    """"sgd", "momentum" (SGD with ``momentum``) or "adam", by name, for sweeps and the widget."""
    name = name.lower()
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate=lr, momentum=momentum)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    raise ValueError(f"unknown optimizer {name!r}: use 'sgd', 'momentum' or 'adam'")


def compare_learning_rates(learning_rates: Sequence[float], model_fn: Callable[[], keras.Model], train_loader,
                           val_loader, num_epochs: int = 100, *, criterion=None,
                           optimizer_fn: Callable[[float], keras.optimizers.Optimizer] | None = None,
                           seed: int | None = 0, show: bool = True) -> dict[float, TrainingHistory]:
    """Train a fresh model per learning rate (same seed, same data) and plot the runs side by side."""
    criterion = criterion if criterion is not None else keras.losses.MeanSquaredError()
    optimizer_fn = optimizer_fn or (lambda lr: keras.optimizers.SGD(learning_rate=lr))

    def train_one(lr: float) -> TrainingHistory:
        if seed is not None:
            keras.utils.set_random_seed(seed)
        return train_with_loss_tracking(model_fn(), train_loader, val_loader, criterion, optimizer_fn(lr),
                                        num_epochs)

    results = sweep(learning_rates, train_one)
    plot_lr_comparison(results, show=show)
    return results


def lr_range_test(model_fn: Callable[[], keras.Model], train_loader, criterion=None, *, start_lr: float = 1e-6,
                  end_lr: float = 10.0, num_iters: int = 100,
                  optimizer_fn: Callable[[float], keras.optimizers.Optimizer] | None = None) -> RangeTestResult:
    """Smith's range test on a fresh model: one step per learning rate, cycling through the dataset."""
    criterion = keras.losses.get(criterion if criterion is not None else "mse")
    model = model_fn()
    optimizer = (optimizer_fn or (lambda lr: keras.optimizers.SGD(learning_rate=lr)))(start_lr)
    optimizer.build(model.trainable_variables)
    batches = iter(train_loader.repeat())

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = criterion(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def step(lr: float) -> float:
        optimizer.learning_rate = lr
        xb, yb = next(batches)
        return float(train_step(xb, yb))  # one sync per step: the sweep stops as soon as it diverges

    return run_range_test(step, start_lr, end_lr, num_iters)


def lr_explorer(model_fn: Callable[[], keras.Model], train_loader, val_loader, criterion=None,
                num_epochs: int = 20, seed: int = 0, **kwargs):
    """The ipywidgets explorer: pick learning rate, optimizer and momentum; it retrains and redraws."""
    from .core.widgets import lr_explorer as _explorer

    criterion = criterion if criterion is not None else keras.losses.MeanSquaredError()

    def train_fn(lr: float, optimizer: str, momentum: float) -> TrainingHistory:
        keras.utils.set_random_seed(seed)
        return train_with_loss_tracking(model_fn(), train_loader, val_loader, criterion,
                                        make_optimizer(optimizer, lr, momentum), num_epochs)

    return _explorer(train_fn, **kwargs)


def _current_lr(optimizer) -> float:
    lr = optimizer.learning_rate
    return float(lr.numpy() if hasattr(lr, "numpy") else lr)
