"""Train one `RunSpec` for real with losslab's own training loops and return the record.

PyTorch runs go through `losslab.torch.train_with_loss_tracking`, Keras runs through
`losslab.tensorflow.train_with_loss_tracking`: the records are the ones a student gets (per-epoch and
per-iteration loss, total and per-layer gradient norm, learning rate, an early stop recorded on NaN/Inf).
Besides the record, each run notes how far its first layer's weights moved
(``meta["first_layer_weight_change"]``): the diagnosis never sees it, so the vanishing-gradient check can
use it as independent evidence.
"""
from __future__ import annotations

import numpy as np

from losslab.core.history import TrainingHistory

from families import Data, RunSpec


def train(spec: RunSpec, data: Data, framework: str) -> TrainingHistory:
    if framework == "torch":
        return _train_torch(spec, data)
    if framework == "tensorflow":
        return _train_tf(spec, data)
    raise ValueError(f"unknown framework {framework!r}")


def _train_torch(spec: RunSpec, data: Data) -> TrainingHistory:
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from losslab.torch import train_with_loss_tracking

    torch.set_num_threads(1)  # tiny models: one thread is fastest, and the machine is shared
    torch.manual_seed(spec.seed)
    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    out = data.classes or 1
    layers: list[nn.Module] = []
    if spec.arch == "cnn":  # 8x8 images, one 3x3 convolution
        layers = [nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, spec.hidden[0], 3), acts[spec.act](), nn.Flatten(),
                  nn.Linear(spec.hidden[0] * 36, out)]
    elif spec.arch == "gru":
        layers = [_GRU(spec.hidden[0]), nn.Linear(spec.hidden[0], out)]
    else:
        dims = [data.X_train.shape[1], *spec.hidden, out]
        for i in range(len(dims) - 1):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                layers.append(acts[spec.act]())
    model = nn.Sequential(*layers)
    p = list(model.parameters())
    opt = {"sgd": lambda: torch.optim.SGD(p, lr=spec.lr, weight_decay=spec.weight_decay),
           "momentum": lambda: torch.optim.SGD(p, lr=spec.lr, momentum=0.9, weight_decay=spec.weight_decay),
           "adam": lambda: torch.optim.Adam(p, lr=spec.lr),
           "adamw": lambda: torch.optim.AdamW(p, lr=spec.lr, weight_decay=spec.weight_decay)}[spec.optimizer]()
    criterion = nn.CrossEntropyLoss() if data.classes else nn.MSELoss()
    train_loader = DataLoader(TensorDataset(torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)),
                              batch_size=spec.batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(spec.seed))
    val_loader = DataLoader(TensorDataset(torch.from_numpy(data.X_val), torch.from_numpy(data.y_val)),
                            batch_size=512)
    first = next(iter(model.parameters()))
    w0 = first.detach().clone()
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, spec.lr_factor) if spec.schedule else None
    hist = train_with_loss_tracking(model, train_loader, val_loader, criterion, opt, num_epochs=spec.epochs,
                                    scheduler=scheduler)
    hist.meta["first_layer_weight_change"] = float((first.detach() - w0).norm() / w0.norm())
    return hist


def _GRU(hidden: int):
    """A GRU over a flattened sequence of scalars, returning its last hidden state."""
    from torch import nn

    class LastState(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(1, hidden, batch_first=True)

        def forward(self, x):
            return self.gru(x.unsqueeze(-1))[1][0]

    return LastState()


def _train_tf(spec: RunSpec, data: Data) -> TrainingHistory:
    import keras
    import tensorflow as tf

    from losslab.tensorflow import train_with_loss_tracking

    try:  # tiny models: one thread is fastest, and the machine is shared
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already started: its thread pools are fixed
        pass
    keras.utils.set_random_seed(spec.seed)
    inputs = [keras.Input((data.X_train.shape[1],))]
    if spec.arch == "cnn":  # 8x8 images, one 3x3 convolution
        body = [keras.layers.Reshape((8, 8, 1)), keras.layers.Conv2D(spec.hidden[0], 3, activation=spec.act),
                keras.layers.Flatten()]
    elif spec.arch == "gru":
        body = [keras.layers.Reshape((data.X_train.shape[1], 1)), keras.layers.GRU(spec.hidden[0])]
    else:
        body = [keras.layers.Dense(h, activation=spec.act) for h in spec.hidden]
    model = keras.Sequential(inputs + body + [keras.layers.Dense(data.classes or 1)])
    wd = spec.weight_decay or None
    opt = {"sgd": lambda: keras.optimizers.SGD(spec.lr, weight_decay=wd),
           "momentum": lambda: keras.optimizers.SGD(spec.lr, momentum=0.9, weight_decay=wd),
           "adam": lambda: keras.optimizers.Adam(spec.lr),
           "adamw": lambda: keras.optimizers.AdamW(spec.lr, weight_decay=spec.weight_decay)}[spec.optimizer]()
    criterion = (keras.losses.SparseCategoricalCrossentropy(from_logits=True) if data.classes
                 else keras.losses.MeanSquaredError())
    train_ds = (tf.data.Dataset.from_tensor_slices((data.X_train, data.y_train))
                .shuffle(len(data.X_train), seed=spec.seed, reshuffle_each_iteration=True).batch(spec.batch_size))
    val_ds = tf.data.Dataset.from_tensor_slices((data.X_val, data.y_val)).batch(512)
    w0 = model.trainable_variables[0].numpy().copy()
    scheduler = (lambda epoch, lr: spec.lr * spec.lr_factor(epoch)) if spec.schedule else None
    hist = train_with_loss_tracking(model, train_ds, val_ds, criterion, opt, num_epochs=spec.epochs,
                                    scheduler=scheduler)
    w1 = model.trainable_variables[0].numpy()
    hist.meta["first_layer_weight_change"] = float(np.linalg.norm(w1 - w0) / np.linalg.norm(w0))
    return hist
