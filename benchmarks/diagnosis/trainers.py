"""Train one `RunSpec` for real in PyTorch or TensorFlow/Keras and return its losslab record.

Both trainers hand their epochs to `losslab.core.loop.run_epochs`, the driver behind the framework flavors,
so the records are real losslab records: per-epoch and per-iteration loss, total and per-layer gradient norm,
learning rate, and an early stop (recorded, not raised) on a non-finite loss. Besides the record, each run
notes how far its first layer's weights moved (``meta["first_layer_weight_change"]``): the diagnosis never
sees it, so the vanishing-gradient check can use it as independent evidence.
"""
from __future__ import annotations

import numpy as np

from losslab.core.history import TrainingHistory
from losslab.core.loop import EpochResult, run_epochs

from families import Data, RunSpec


def train(spec: RunSpec, data: Data, framework: str) -> TrainingHistory:
    if framework == "torch":
        return _train_torch(spec, data)
    if framework == "tensorflow":
        return _train_tf(spec, data)
    raise ValueError(f"unknown framework {framework!r}")


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


# -- PyTorch ------------------------------------------------------------------------------------------
def _train_torch(spec: RunSpec, data: Data) -> TrainingHistory:
    import torch
    from torch import nn

    torch.set_num_threads(1)  # tiny models: one thread is fastest, and the machine is shared
    torch.manual_seed(spec.seed)
    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    dims = [data.X_train.shape[1], *spec.hidden, data.classes or 1]
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(acts[spec.act]())
    model = nn.Sequential(*layers)
    params = [p for p in model.parameters()]
    names = [n for n, _ in model.named_parameters()]
    opt = {"sgd": lambda: torch.optim.SGD(params, lr=spec.lr, weight_decay=spec.weight_decay),
           "momentum": lambda: torch.optim.SGD(params, lr=spec.lr, momentum=0.9, weight_decay=spec.weight_decay),
           "adam": lambda: torch.optim.Adam(params, lr=spec.lr),
           "adamw": lambda: torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)}[spec.optimizer]()
    loss_fn = nn.CrossEntropyLoss() if data.classes else nn.MSELoss()
    Xtr, ytr = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
    Xva, yva = torch.from_numpy(data.X_val), torch.from_numpy(data.y_val)
    w0 = layers[0].weight.detach().clone()
    rng = np.random.default_rng(spec.seed)

    def train_epoch(epoch: int) -> EpochResult:
        model.train()
        losses, sizes, norms = [], [], []
        for idx in _batches(len(Xtr), spec.batch_size, rng):
            ix = torch.from_numpy(idx)
            opt.zero_grad()
            loss = loss_fn(model(Xtr[ix]), ytr[ix])
            loss.backward()
            norms.append(torch.stack([p.grad.detach().norm() for p in params]))
            opt.step()
            losses.append(loss.detach())
            sizes.append(len(idx))
            if not torch.isfinite(loss):
                break
        return EpochResult(torch.stack(losses).numpy(), np.array(sizes), torch.stack(norms).numpy())

    def validate() -> float:
        model.eval()
        with torch.no_grad():
            return float(loss_fn(model(Xva), yva))

    hist = run_epochs(train_epoch, validate, spec.epochs, get_lr=lambda: opt.param_groups[0]["lr"],
                      layer_names=names)
    w1 = layers[0].weight.detach()
    hist.meta["first_layer_weight_change"] = float((w1 - w0).norm() / w0.norm())
    return hist


# -- TensorFlow / Keras ----------------------------------------------------------------------------------
def _train_tf(spec: RunSpec, data: Data) -> TrainingHistory:
    import keras
    import tensorflow as tf

    try:  # tiny models: one thread is fastest, and the machine is shared
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already started: its thread pools are fixed
        pass
    keras.utils.set_random_seed(spec.seed)
    model = keras.Sequential([keras.Input((data.X_train.shape[1],))]
                             + [keras.layers.Dense(h, activation=spec.act) for h in spec.hidden]
                             + [keras.layers.Dense(data.classes or 1)])
    opt = {"sgd": lambda: keras.optimizers.SGD(spec.lr, weight_decay=spec.weight_decay or None),
           "momentum": lambda: keras.optimizers.SGD(spec.lr, momentum=0.9, weight_decay=spec.weight_decay or None),
           "adam": lambda: keras.optimizers.Adam(spec.lr),
           "adamw": lambda: keras.optimizers.AdamW(spec.lr, weight_decay=spec.weight_decay)}[spec.optimizer]()
    loss_fn = (keras.losses.SparseCategoricalCrossentropy(from_logits=True) if data.classes
               else keras.losses.MeanSquaredError())
    variables = model.trainable_variables
    names = [v.path for v in variables]
    w0 = variables[0].numpy().copy()

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return loss, tf.stack([tf.norm(g) for g in grads])

    Xtr, ytr = data.X_train, data.y_train
    rng = np.random.default_rng(spec.seed)

    def train_epoch(epoch: int) -> EpochResult:
        losses, sizes, norms = [], [], []
        for idx in _batches(len(Xtr), spec.batch_size, rng):
            loss, norm = step(tf.constant(Xtr[idx]), tf.constant(ytr[idx]))
            losses.append(loss)
            norms.append(norm)
            sizes.append(len(idx))
        losses_np = tf.stack(losses).numpy()  # one copy per epoch
        return EpochResult(losses_np, np.array(sizes), tf.stack(norms).numpy())

    def validate() -> float:
        return float(loss_fn(data.y_val, model(data.X_val, training=False)))

    hist = run_epochs(train_epoch, validate, spec.epochs,
                      get_lr=lambda: float(keras.ops.convert_to_numpy(opt.learning_rate)), layer_names=names)
    w1 = variables[0].numpy()
    hist.meta["first_layer_weight_change"] = float(np.linalg.norm(w1 - w0) / np.linalg.norm(w0))
    return hist
