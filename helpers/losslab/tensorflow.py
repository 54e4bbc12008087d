"""losslab for TensorFlow/Keras: ``from losslab.tensorflow import SimpleNet, train_with_loss_tracking, ...``.

The same names as `losslab.torch`, with Keras models, losses and optimizers and tf.data underneath. Each
step is one ``tf.function``; its loss and gradient norms stay tensors until the epoch ends and are stacked
and copied to the host once. `LossHistory` fills the same record during ``model.fit``. Sweeps, the range
test and the explorer are the core's (see the flavor-parity table in ``helpers/losslab/README.md``).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import keras

from .core import flavor as _core
from .core.data import check_xy, make_regression, split_indices
from .core.history import TrainingHistory
from .core.loop import EpochResult, check_loader, cycle_batches, record_epoch, run_epochs, validation_mean
from .core.lr_range import RangeTestResult
from .core import sanity as _sanity
from .core import zoo as _zoo
from .core.signals import STOP_CALLBACK, StopReason
from . import (identify_training_issues, plot_histories, plot_loss_curves,  # noqa: F401  (re-exported)
               plot_lr_comparison, plot_training_dashboard)

__all__ = [
    "SimpleNet", "generate_synthetic_data", "create_data_loaders", "train_with_loss_tracking",
    "plot_loss_curves", "compare_learning_rates", "identify_training_issues", "lr_range_test",
    "make_optimizer", "global_grad_norm", "set_seed", "lr_explorer", "plot_training_dashboard", "plot_histories",
    "plot_lr_comparison", "LossHistory", "TrainingHistory", "sanity_check", "zoo_run",
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

    def get_config(self) -> dict[str, Any]:
        """Its constructor arguments, so ``keras.models.clone_model`` (and saving) can rebuild it."""
        return {**super().get_config(), "input_dim": self.input_dim, "hidden_dim": self.hidden1.units,
                "output_dim": self.out.units, "dropout": self.dropout.rate if self.dropout is not None else 0.0}

    def __repr__(self) -> str:
        return (f"SimpleNet(input_dim={self.input_dim}, hidden_dim={self.hidden1.units}, "
                f"output_dim={self.out.units}, params={self.count_params()})")


def set_seed(seed: int) -> None:
    """Seed Python, numpy and TensorFlow (Keras' own seeding) so a run repeats on the CPU."""
    _core.seed_everything(seed, keras.utils.set_random_seed)


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
                             live_plot: bool | str = False, progress: bool = False, device: str | None = None,
                             lr: float | None = None) -> TrainingHistory:
    """Train a Keras model with a custom loop and return its `TrainingHistory`.

    ``criterion`` is a Keras loss or callable ``(target, prediction)``, or a name: the names both flavors
    know ("mse", "mae", "huber", "cross_entropy", "bce_with_logits") or any Keras loss name; a per-sample
    result is averaged. ``optimizer`` is a Keras optimizer, or a name ("sgd", "momentum", "nesterov", "adam",
    "adamw", "rmsprop" or any Keras optimizer name; learning rate ``lr``, default per name) or a factory
    ``(lr)``. ``scheduler(epoch, lr) -> lr`` sets the learning rate at the start of each epoch, like Keras'
    ``LearningRateScheduler`` (that callback is accepted too); a ``LearningRateSchedule`` inside the optimizer
    works as well. ``device`` (e.g. "/GPU:0") places the run with ``tf.device``.
    """
    check_loader(train_loader, "train_loader")
    if val_loader is not None:
        check_loader(val_loader, "val_loader")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be a positive number, got {clip_grad_norm}")
    if isinstance(scheduler, keras.callbacks.LearningRateScheduler):
        scheduler = scheduler.schedule
    elif isinstance(scheduler, keras.callbacks.Callback):
        raise TypeError(f"scheduler takes a schedule(epoch, lr) -> lr; {type(scheduler).__name__} is a Keras "
                        "callback for model.fit: train with model.fit(..., callbacks=[it, LossHistory()])")
    criterion = _criterion(criterion)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        optimizer = _build_optimizer(optimizer, model, lr, 0.9)
    variables = model.trainable_variables
    if not variables:
        raise ValueError("the model has no trainable variables: build it (call it once) before training")
    with _on(device):
        optimizer.build(variables)
    measure = track_grad_norm or clip_grad_norm is not None
    clip = float(clip_grad_norm) if clip_grad_norm is not None else 0.0

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(criterion(yb, model(xb, training=True)))
            total_loss = loss + tf.add_n(model.losses) if model.losses else loss
        grads = tape.gradient(total_loss, variables)
        grads = [g if g is not None else tf.zeros_like(v) for g, v in zip(grads, variables)]
        per_var = tf.stack([tf.norm(tf.cast(g, tf.float32)) for g in grads]) if measure else tf.zeros((0,))
        if clip_grad_norm is not None:
            grads, _ = tf.clip_by_global_norm(grads, clip, use_norm=tf.norm(per_var))
        optimizer.apply_gradients(zip(grads, variables))
        return tf.cast(loss, tf.float64), per_var

    @tf.function
    def validate_step(xb, yb):
        n = tf.cast(tf.shape(xb)[0], tf.float64)
        return tf.stack([tf.cast(tf.reduce_mean(criterion(yb, model(xb, training=False))), tf.float64) * n, n])

    def train_epoch(epoch: int) -> EpochResult:
        losses, norms, sizes = [], [], []
        with _on(device):
            for xb, yb in train_loader:  # step outputs stay tensors (on the device) until the epoch ends
                loss, per_var = train_step(xb, yb)
                losses.append(loss)
                norms.append(per_var)
                sizes.append(len(xb))
        if not losses:
            return EpochResult(np.empty(0), np.empty(0))
        return EpochResult(tf.stack(losses).numpy(), np.asarray(sizes),
                           tf.stack(norms).numpy() if track_grad_norm else None)

    def validate() -> float:
        # one compiled step per batch, summed on the device, one host copy: a loop over the dataset inside
        # the graph costs 4x as much per epoch (21 ms vs 5 ms for 7 batches, measured)
        with _on(device):
            sums = [validate_step(xb, yb) for xb, yb in val_loader]
            total, count = tf.add_n(sums).numpy() if sums else (0.0, 0.0)
        return validation_mean(total, count)

    def set_lr(value: float) -> None:
        optimizer.learning_rate = value

    meta = {"optimizer": type(optimizer).__name__, "criterion": type(criterion).__name__,
            "clip_grad_norm": clip_grad_norm}
    return run_epochs(train_epoch, validate if val_loader is not None else None, num_epochs,
                      get_lr=lambda: _current_lr(optimizer), layer_names=[v.path for v in variables],
                      schedule=scheduler, set_lr=set_lr, live_plot=live_plot, progress=progress, meta=meta,
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

    def on_train_batch_begin(self, batch, logs=None):
        if not self._means:  # read at the first step: every on_epoch_begin (a LearningRateScheduler) has run
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

    def on_train_end(self, logs=None):
        if self.model.stop_training and self.history.stop_reason is None and self.history.epochs:
            epoch = self.history.epochs
            self.history.stop_reason = StopReason(f"stopped by a callback (e.g. EarlyStopping) after epoch {epoch}",
                                                  STOP_CALLBACK, epoch=epoch)


def make_optimizer(name: str, lr: float | None = None, momentum: float = 0.9) -> keras.optimizers.Optimizer:
    """An optimizer by name, with the same meaning as in `losslab.torch.make_optimizer`.

    "sgd", "momentum" (SGD with ``momentum``), "nesterov", "adam", "adamw", "rmsprop"; ``lr`` defaults per
    name (`losslab.core.flavor.DEFAULT_LR`). Any other name is Keras' own (``keras.optimizers.get``).
    """
    key = _core.canonical_name(name)
    rate = lr if lr is not None else _core.DEFAULT_LR.get(key)
    if key in ("sgd", "momentum", "nesterov"):
        return keras.optimizers.SGD(learning_rate=rate, momentum=0.0 if key == "sgd" else momentum,
                                    nesterov=key == "nesterov")
    classes = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "rmsprop": keras.optimizers.RMSprop}
    if key in classes:
        return classes[key](learning_rate=rate)
    try:
        optimizer = keras.optimizers.get(name)
    except ValueError:
        raise _core.unknown("optimizer", name, _core.OPTIMIZER_NAMES) from None
    if rate is not None:
        optimizer.learning_rate = rate
    return optimizer


def compare_learning_rates(learning_rates: Sequence[float], model_fn: Callable[[], keras.Model], train_loader,
                           val_loader, num_epochs: int = 100, *, criterion=None, optimizer=None,
                           optimizer_fn: Callable[[float], keras.optimizers.Optimizer] | None = None,
                           seed: int | None = 0, show: bool = True) -> dict[float, TrainingHistory]:
    """Train a fresh model per learning rate (same seed, same data) and plot the runs side by side.

    ``optimizer`` is a name ("sgd" by default) or a factory ``(lr)``; ``optimizer_fn`` is its old name.
    """
    return _core.compare_learning_rates(FLAVOR, learning_rates, model_fn, train_loader, val_loader, num_epochs,
                                        criterion=criterion, seed=seed, show=show,
                                        optimizer=_core.optimizer_argument(optimizer, optimizer_fn))


def lr_range_test(model_fn: Callable[[], keras.Model], train_loader, criterion=None, *, start_lr: float = 1e-6,
                  end_lr: float = 10.0, num_iters: int = 100, optimizer=None,
                  optimizer_fn: Callable[[float], keras.optimizers.Optimizer] | None = None) -> RangeTestResult:
    """Smith's range test on a fresh model: one step per learning rate, cycling through the dataset.

    ``optimizer`` is a name ("sgd" by default) or a factory ``(lr)``; ``optimizer_fn`` is its old name.
    """
    return _core.lr_range_test(FLAVOR, model_fn, train_loader, criterion, start_lr=start_lr, end_lr=end_lr,
                               num_iters=num_iters, optimizer=_core.optimizer_argument(optimizer, optimizer_fn))


def lr_explorer(model_fn: Callable[[], keras.Model], train_loader, val_loader, criterion=None,
                num_epochs: int = 20, seed: int = 0, **kwargs):
    """The ipywidgets explorer: pick learning rate, optimizer and momentum; it retrains and redraws."""
    return _core.lr_explorer(FLAVOR, model_fn, train_loader, val_loader, criterion, num_epochs, seed, **kwargs)


def sanity_check(model: keras.Model, loader, loss_fn=None, optimizer="adam", lr: float | None = None, *,
                 thresholds: _sanity.SanityThresholds | None = None) -> _sanity.SanityReport:
    """The checks to run before a long training (`losslab.core.sanity`), each on a clone of ``model``.

    Each copy is ``keras.models.clone_model`` with the caller's weights (a subclassed model needs
    ``get_config``). ``optimizer`` is a name, a factory ``(lr)``, or an optimizer object (rebuilt from its
    config for each copy; the object itself is never stepped). The caller's model is never trained.
    """
    check_loader(loader, "loader")
    if not model.trainable_variables:
        raise _sanity.untrainable(model)
    criterion = _criterion(loss_fn)
    if isinstance(optimizer, keras.optimizers.Optimizer):
        config = optimizer.get_config()
        optimizer = lambda rate, cls=type(optimizer): cls.from_config({**config, "learning_rate": rate})  # noqa: E731
        lr = float(config["learning_rate"]) if lr is None else lr
    try:
        twin = keras.models.clone_model(model)
    except NotImplementedError as error:
        raise TypeError(f"sanity_check works on a copy and cannot clone {type(model).__name__}: give it a "
                        "get_config() returning its constructor arguments (see losslab's SimpleNet)") from error
    twin.set_weights(model.get_weights())
    copy = _SanityCopy(twin, criterion, _build_optimizer(optimizer, twin, lr))

    def fresh() -> _SanityCopy:
        # One clone, reset to the caller's weights and a new optimizer state for each check: its compiled
        # steps are traced once per call, not once per check.
        copy.reset()
        return copy

    probe = _sanity.Probe(fresh, _loss_kind(criterion), getattr(criterion, "name", type(criterion).__name__),
                          "tensorflow")
    return _sanity.sanity_check(probe, loader, thresholds)


class _SanityCopy:
    """A clone of the caller's model with its own optimizer (`losslab.core.sanity.Trainer`); ``reset`` puts
    back the weights and optimizer state it started with."""

    def __init__(self, model: keras.Model, criterion, optimizer: keras.optimizers.Optimizer):
        self.model, self.criterion, self.optimizer = model, criterion, optimizer
        variables = model.trainable_variables
        optimizer.build(variables)
        self._start = [v.numpy() for v in model.variables], [v.numpy() for v in optimizer.variables]

        def loss_of(x, y, training=True):
            return tf.reduce_mean(criterion(y, model(x, training=training)))

        def gradients(x, y):  # eager for the one gradient-norm reading; traced inside `step`
            with tf.GradientTape() as tape:
                loss = loss_of(x, y)
            grads = tape.gradient(loss, variables)
            return loss, [g if g is not None else tf.zeros_like(v) for g, v in zip(grads, variables)]

        @tf.function(reduce_retracing=True)
        def step(x, y):
            loss, grads = gradients(x, y)
            optimizer.apply_gradients(zip(grads, variables))
            return loss

        # the loss is read in inference mode (dropout off), so a memorised batch reads as memorised
        self._loss = tf.function(lambda x, y: loss_of(x, y, training=False), reduce_retracing=True)
        self._gradients, self._step = gradients, step

    def reset(self) -> None:
        for variables, values in zip((self.model.variables, self.optimizer.variables), self._start):
            for v, value in zip(variables, values):
                v.assign(value)

    def predict(self, x) -> np.ndarray:
        return np.asarray(self.model(x, training=False))

    def loss(self, x, y) -> float:
        return float(self._loss(x, y))

    def step(self, x, y) -> float:
        return float(self._step(x, y))

    def grad_norms(self, x, y) -> dict[str, float]:
        _, grads = self._gradients(x, y)
        return {v.path: float(tf.norm(tf.cast(g, tf.float32))) for v, g in zip(self.model.trainable_variables, grads)}

    def weights(self) -> dict[str, np.ndarray]:
        return {v.path: v.numpy().copy() for v in self.model.trainable_variables if len(v.shape) >= 2}


def _loss_kind(criterion) -> str | None:
    fn = getattr(criterion, "fn", criterion)  # a Keras loss object wraps its per-sample function
    kinds = {keras.losses.sparse_categorical_crossentropy: "cross_entropy",
             keras.losses.binary_crossentropy: "bce_with_logits", keras.losses.mean_squared_error: "mse"}
    return kinds.get(fn)


_LOSSES = {"mse": lambda: keras.losses.MeanSquaredError(), "mae": lambda: keras.losses.MeanAbsoluteError(),
           "huber": lambda: keras.losses.Huber(),
           "cross_entropy": lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
           "bce_with_logits": lambda: keras.losses.BinaryCrossentropy(from_logits=True)}


def _criterion(criterion) -> Callable:
    if criterion is None:
        return keras.losses.MeanSquaredError()
    if isinstance(criterion, str):
        key = _core.canonical_name(criterion)
        if key in _LOSSES:
            return _LOSSES[key]()
        try:
            return keras.losses.get(criterion)  # a per-sample function: the steps average it
        except ValueError:
            raise _core.unknown("loss", criterion, _core.LOSS_NAMES) from None
    if not callable(criterion):
        raise TypeError(f"criterion must be a Keras loss, a callable (target, prediction) or a name, "
                        f"got {type(criterion).__name__}")
    return criterion


def _build_optimizer(spec, model: keras.Model, lr: float | None, momentum: float = 0.9) -> keras.optimizers.Optimizer:
    return _core.build_optimizer(spec, lr, momentum, optimizer_type=keras.optimizers.Optimizer,
                                 by_name=lambda name, rate, beta: make_optimizer(name, rate, beta),
                                 from_factory=lambda factory, rate: factory(rate), factory_shape="(lr)")


def _range_step(model: keras.Model, optimizer: keras.optimizers.Optimizer, criterion,
                loader) -> Callable[[float], float]:
    optimizer.build(model.trainable_variables)
    batches = cycle_batches(loader)

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(criterion(yb, model(xb, training=True)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def step(lr: float) -> float:
        optimizer.learning_rate = lr
        xb, yb = next(batches)
        return float(train_step(xb, yb))  # one sync per step: the sweep stops as soon as it diverges

    return step


def _on(device: str | None):
    return tf.device(device) if device is not None else contextlib.nullcontext()


def _current_lr(optimizer) -> float:
    lr = optimizer.learning_rate
    return float(lr.numpy() if hasattr(lr, "numpy") else lr)


FLAVOR = _core.Flavor("tensorflow", set_seed, train_with_loss_tracking, _build_optimizer, _criterion, _range_step)


def zoo_run(bug: str | None, *, fixed: bool = False, seed: int = 0, **changes) -> TrainingHistory:
    """Train lecture 07's script with ``bug`` injected (or its fix); see `losslab.core.zoo`."""
    recipe = _zoo.recipe(bug, fixed=fixed, seed=seed, **changes)
    set_seed(seed)
    return _zoo.train(recipe, _ZooModel(recipe), "tensorflow")


class _ZooModel:
    """The zoo's MLP and SGD in Keras, each bug written the way Keras code gets it wrong.

    Keras has no ``zero_grad``: ``model.fit`` computes fresh gradients every step, so gradients pile up only
    in a custom train step that accumulates them (for a larger effective batch) and never resets the sum.
    """

    def __init__(self, r):
        self.r = r
        layers = [keras.Input((r.x_train.shape[1],)), keras.layers.Dense(r.hidden, activation="relu")]
        layers += [keras.layers.Dropout(r.dropout)] if r.dropout else []
        layers += [keras.layers.Dense(r.hidden, activation="relu")]
        layers += [keras.layers.Dropout(r.dropout)] if r.dropout else []
        layers += [keras.layers.Dense(r.outputs, activation="softmax" if r.softmax_output else None)]
        self.model = keras.Sequential(layers)
        self.vars = self.model.trainable_variables
        dense = [layer for layer in self.model.layers if layer.trainable_variables]
        self.names = [f"dense{i}.{v.name}" for i, layer in enumerate(dense) for v in layer.trainable_variables]
        self.trained = self.vars[-2:] if r.head_only else self.vars
        self.optimizer = keras.optimizers.SGD(learning_rate=r.lr, momentum=r.momentum)
        self.optimizer.build(self.trained)
        self.acc = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.trained]
        self.ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
        self.step_graph = tf.function(self._step)
        self.loss_graph = tf.function(self._loss)

    def _loss(self, x, y, training):
        out = self.model(x, training=training)
        if self.r.task == "regress":  # hand-written: with y of shape (N,) the difference is N x N
            return tf.reduce_mean(tf.square(y - out))
        # Keras' own loss would spot a softmax output, warn and use the logits behind it: the bug lives on
        # with a loss that does not look, such as TensorFlow's own
        per_sample = (tf.nn.sparse_softmax_cross_entropy_with_logits(y, out) if self.r.softmax_output
                      else self.ce(y, out))
        return tf.reduce_sum(per_sample) if self.r.reduction == "sum" else tf.reduce_mean(per_sample)

    def _step(self, x, y, lr):
        self.optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            loss = self._loss(x, y, True)
        grads = tape.gradient(loss, self.vars)
        applied = grads[-2:] if self.r.head_only else grads
        if self.r.accumulate:
            for a, g in zip(self.acc, applied):
                a.assign_add(g)
            applied = [a.read_value() for a in self.acc]
            grads = applied  # record what is applied, as PyTorch's .grad holds the running sum
        before = [tf.identity(v) for v in self.vars]
        self.optimizer.apply(applied, self.trained)
        return (loss, tf.stack([tf.norm(g) for g in grads]),
                tf.stack([tf.norm(v - b) for v, b in zip(self.vars, before)]), tf.stack([tf.norm(b) for b in before]))

    def step(self, x, y, lr):
        loss, grads, updates, weights = self.step_graph(tf.constant(x), tf.constant(y), tf.constant(lr, tf.float32))
        return float(loss), grads.numpy(), updates.numpy(), weights.numpy()

    def loss(self, x, y, *, training=False):
        value = float(self.loss_graph(tf.constant(x), tf.constant(y), training))
        return value / (len(x) if self.r.reduction == "sum" else 1)

    def hidden(self, x):
        return self.model.layers[0](tf.constant(x)).numpy()
