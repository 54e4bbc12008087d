"""The bug zoo: one small training script with one realistic bug injected at a time, framework-free.

Lecture 07 trains every run here for real. A `Recipe` is the script as data (the digits, the model's size,
SGD with momentum, the schedule, and the bug's switches); a flavor supplies a `ZooModel` that can take one
step and evaluate a loss, with the bug switches honoured the way that framework's code would get them wrong
(``losslab.torch.zoo_run``, ``losslab.tensorflow.zoo_run``). Everything else is here, once for both flavors:
the data (split, sorted, noisy or leaked), batching, the learning rate of each step, and the record, a
`TrainingHistory` whose ``meta`` adds per-step update sizes, the loss on untouched test data and the share
of dead first-layer units.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from .data import make_regression
from .history import TrainingHistory
from .loop import EpochResult, run_epochs
from .signals import epoch_pattern


@dataclass(frozen=True)
class Bug:
    """One bug: what it is, the buggy and fixed line in each framework, and the signature it leaves."""

    name: str
    title: str
    signature: str
    fix: str
    lines: dict[str, tuple[str, str]] = field(default_factory=dict)  # framework -> (buggy line, fixed line)


#: The zoo, in lecture order. ``lines`` show the one place each script differs from its fix.
BUGS: dict[str, Bug] = {b.name: b for b in (
    Bug("accumulated_gradients", "gradients accumulated (no zero_grad)",
        "the gradient norm climbs step after step, and the loss swings ever wider",
        "clear the gradients before each backward pass",
        {"pytorch": ("loss.backward(); optimizer.step()  # no optimizer.zero_grad()",
                     "optimizer.zero_grad(); loss.backward(); optimizer.step()"),
         "tensorflow": ("acc.assign_add(grads); optimizer.apply(acc)  # accumulator never reset",
                        "optimizer.apply(grads)  # or reset acc after each apply")}),
    Bug("unshuffled", "data sorted by class, never shuffled",
        "a saw-tooth per-iteration loss that repeats every epoch, and a loss that stays high",
        "shuffle the training data every epoch",
        {"pytorch": ("DataLoader(sorted_by_class, batch_size=64, shuffle=False)",
                     "DataLoader(train_set, batch_size=64, shuffle=True)"),
         "tensorflow": ("tf.data.Dataset.from_tensor_slices(sorted_by_class).batch(64)",
                        "tf.data.Dataset.from_tensor_slices(train).shuffle(n).batch(64)")}),
    Bug("softmax_before_ce", "softmax before a cross-entropy that expects logits",
        "the loss cannot fall below ln(1 + 9/e) = 1.46 however well the model classifies",
        "give the loss the logits (drop the softmax layer)",
        {"pytorch": ("nn.Sequential(..., nn.Linear(64, 10), nn.Softmax(dim=1)); nn.CrossEntropyLoss()",
                     "nn.Sequential(..., nn.Linear(64, 10)); nn.CrossEntropyLoss()"),
         "tensorflow": ("Dense(10, activation='softmax'); tf.nn.sparse_softmax_cross_entropy_with_logits(y, out)",
                        "Dense(10); tf.nn.sparse_softmax_cross_entropy_with_logits(y, out)")}),
    Bug("dropout_never_off", "validation measured with dropout still on",
        "the validation loss sits at the training loss instead of below it, and is noisier",
        "evaluate in inference mode",
        {"pytorch": ("val_loss = criterion(model(x_val), y_val)  # model.eval() never called",
                     "model.eval(); with torch.no_grad(): val_loss = criterion(model(x_val), y_val)"),
         "tensorflow": ("val_loss = loss_fn(y_val, model(x_val, training=True))",
                        "val_loss = loss_fn(y_val, model(x_val, training=False))")}),
    Bug("noisy_labels", "half of the labels replaced by random ones",
        "the loss settles high, the per-iteration loss stays wide and the gradient norm never shrinks",
        "clean the labels (or use a loss robust to noise)",
        {"pytorch": ("y[noisy] = torch.randint(0, 10, (n_noisy,))", "# labels as recorded"),
         "tensorflow": ("y[noisy] = rng.integers(0, 10, n_noisy)", "# labels as recorded")}),
    Bug("dead_relus", "a too-large first step kills the ReLUs",
        "the loss jumps at step 1 and never comes back; most first-layer units are dead, their gradient zero",
        "a sane learning rate from the first step (warm up from small, not from large)",
        {fw: ("lr = 0.05 / warmup if step == 0 else 0.05  # warmup = 5e-5: divided, not multiplied",
              "lr = 0.05 * warmup if step == 0 else 0.05") for fw in ("pytorch", "tensorflow")}),
    Bug("val_leak", "validation data leaked into training",
        "the validation loss falls with the training loss to near zero; untouched test data stays far above",
        "keep the validation set out of training",
        {"pytorch": ("train_set = ConcatDataset([train_set, val_set])", "train_set = train_set"),
         "tensorflow": ("x_train = np.concatenate([x_train, x_val])", "x_train = x_train")}),
    Bug("sum_reduction", "a summed loss where a mean was meant",
        "loss and gradients 64x (the batch size) too large from the first step; the run blows up",
        "average over the batch (or divide the learning rate by the batch size)",
        {"pytorch": ("nn.CrossEntropyLoss(reduction='sum')", "nn.CrossEntropyLoss()  # reduction='mean'"),
         "tensorflow": ("tf.reduce_sum(loss_fn(y, model(x)))  # loss_fn(reduction=None)",
                        "tf.reduce_mean(loss_fn(y, model(x)))")}),
    Bug("unnormalised_inputs", "inputs not normalised (pixels 0-255)",
        "gradients hundreds of times too large from the first step; the loss blows up and the ReLUs die",
        "scale the inputs (standardise, or divide by the pixel range)",
        {"pytorch": ("x = pixels  # 0..255", "x = pixels / 255.0"),
         "tensorflow": ("x = pixels  # 0..255", "x = pixels / 255.0")}),
    Bug("schedule_per_batch", "a per-epoch step decay stepped every batch",
        "the learning rate collapses within the first epochs; updates shrink to nothing and the loss freezes",
        "step the schedule once per epoch (or give it a step count in batches)",
        {"pytorch": ("for x, y in loader: ...; scheduler.step()  # StepLR(step_size=5) inside the batch loop",
                     "for epoch ...: (for x, y in loader: ...); scheduler.step()"),
         "tensorflow": ("ExponentialDecay(0.05, decay_steps=5, decay_rate=0.5, staircase=True)  # counts batches",
                        "ExponentialDecay(0.05, decay_steps=5 * steps_per_epoch, decay_rate=0.5, staircase=True)")}),
    Bug("broadcast_target", "regression target (N,) against a prediction (N, 1)",
        "the loss settles at the variance of the target: the model can only predict the mean",
        "give the target the prediction's shape",
        {"pytorch": ("F.mse_loss(model(x), y)  # y.shape == (N,), model(x).shape == (N, 1)",
                     "F.mse_loss(model(x), y.view(-1, 1))"),
         "tensorflow": ("tf.reduce_mean(tf.square(y - model(x)))  # y.shape == (N,): an N x N difference",
                        "tf.reduce_mean(tf.square(tf.reshape(y, (-1, 1)) - model(x)))")}),
    Bug("head_only_optimizer", "the optimizer holds only the last layer",
        "the hidden layers get gradients but their update size is exactly zero; the loss stops at a floor",
        "give the optimizer every trainable parameter",
        {"pytorch": ("torch.optim.SGD(model[-1].parameters(), lr=0.05, momentum=0.9)",
                     "torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)"),
         "tensorflow": ("optimizer.apply(grads[-2:], model.layers[-1].trainable_variables)",
                        "optimizer.apply(grads, model.trainable_variables)")}),
)}


@dataclass(frozen=True)
class Recipe:
    """One training script as data. ``bug`` is None for the fixed script; the switches below are its bug."""

    bug: str | None
    seed: int
    task: str                 # "classify" (digits, 10 classes) or "regress"
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    hidden: int = 64
    dropout: float = 0.0
    lr: float = 0.05
    momentum: float = 0.9
    epochs: int = 20
    batch_size: int = 64
    shuffle: bool = True
    softmax_output: bool = False
    reduction: str = "mean"
    accumulate: bool = False
    validate_in_train_mode: bool = False
    first_step_lr: float | None = None
    decay_every: int | None = None     # step decay: the rate halves every ``decay_every`` epochs ...
    decay_per_batch: bool = False      # ... or, with the bug, every ``decay_every`` batches
    broadcast_target: bool = False
    head_only: bool = False

    @property
    def outputs(self) -> int:
        return 10 if self.task == "classify" else 1


class ZooModel(Protocol):
    """What a flavor builds from a `Recipe`: a model with its optimizer, bug switches included."""

    names: list[str]

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """One optimizer step at rate ``lr``: the loss, and per parameter the norms of its gradient, of its
        update (weights after minus before) and of its weights before the step."""

    def loss(self, x: np.ndarray, y: np.ndarray, *, training: bool = False) -> float:
        """The mean loss on (x, y), with dropout on only when ``training``."""

    def hidden(self, x: np.ndarray) -> np.ndarray:
        """The first hidden layer's activations (after its ReLU)."""


#: Where each bug changes the fixed script (the rest of its recipe is the fixed one's).
_BUG_SWITCHES = {
    "accumulated_gradients": {"accumulate": True},
    "unshuffled": {"shuffle": False},
    "softmax_before_ce": {"softmax_output": True},
    "dropout_never_off": {"validate_in_train_mode": True},
    "dead_relus": {"first_step_lr": 1000.0},
    "sum_reduction": {"reduction": "sum"},
    "schedule_per_batch": {"decay_per_batch": True},
    "broadcast_target": {"broadcast_target": True},
    "head_only_optimizer": {"head_only": True},
}
#: The fixed script a bug lives in, where it is not the plain one.
_SETTING = {"dropout_never_off": {"dropout": 0.5}, "schedule_per_batch": {"decay_every": 5},
            "broadcast_target": {"task": "regress"}}
NOISE_SHARE = 0.5


def recipe(bug: str | None, *, fixed: bool = False, seed: int = 0, epochs: int | None = None,
           lr: float | None = None, hidden: int | None = None) -> Recipe:
    """The script for ``bug`` (or its fix, with ``fixed=True``) on data and weights drawn from ``seed``.

    ``epochs``, ``lr`` and ``hidden`` change the script for both (families beyond the lecture's, e.g. for
    evaluating the diagnosis on runs it was not tuned on).
    """
    if bug is not None and bug not in BUGS:
        raise ValueError(f"unknown bug {bug!r}; the zoo has: {', '.join(BUGS)}")
    setting = dict(_SETTING.get(bug, {}))
    task = setting.pop("task", "classify")
    data = _data(task, seed, bug if not fixed else None)
    r = Recipe(None if fixed else bug, seed, task, *data, **setting)
    if not fixed and bug in _BUG_SWITCHES:
        r = replace(r, **_BUG_SWITCHES[bug])
    changes = {k: v for k, v in (("epochs", epochs), ("lr", lr), ("hidden", hidden)) if v is not None}
    return replace(r, **changes) if changes else r


def _data(task: str, seed: int, bug: str | None) -> tuple[np.ndarray, ...]:
    """Train, validation and test arrays (60/20/20), with the data bugs applied to the training part."""
    rng = np.random.default_rng(seed)
    if task == "classify":
        from sklearn.datasets import load_digits  # ships with scikit-learn: no download
        digits = load_digits()
        x, y = digits.data.astype(np.float32), digits.target.astype(np.int64)
        scale = 1.0 if bug == "unnormalised_inputs" else 16.0
        x = x * (255.0 / 16.0) if bug == "unnormalised_inputs" else x / scale  # pixels as 8-bit values
    else:
        x, y = make_regression(1500, 10, 0.1, seed)
        y = y.reshape(-1)
    order = rng.permutation(len(x))
    a, b = int(0.6 * len(x)), int(0.8 * len(x))
    tr, va, te = order[:a], order[a:b], order[b:]
    x_tr, y_tr, x_va, y_va = x[tr], y[tr], x[va], y[va]
    if bug == "noisy_labels":  # a noisy data set: training and validation labels alike
        y_tr, y_va = _noisy(y_tr, rng), _noisy(y_va, rng)
    if bug == "unshuffled":
        keep = np.argsort(y_tr, kind="stable")
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    if bug == "val_leak":
        x_tr, y_tr = np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va])
    if task == "regress":  # the fixed script's target has the prediction's shape
        y_tr, y_va, y_te = (v.reshape(-1) if bug == "broadcast_target" else v.reshape(-1, 1)
                            for v in (y_tr, y_va, y[te]))
        return x_tr, y_tr, x_va, y_va, x[te], y_te
    return x_tr, y_tr, x_va, y_va, x[te], y[te]


def _noisy(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    y = y.copy()
    pick = rng.random(len(y)) < NOISE_SHARE
    y[pick] = rng.integers(0, 10, int(pick.sum()))
    return y


def step_lr(r: Recipe, epoch: int, step: int) -> float:
    """The learning rate of global step ``step`` (in epoch ``epoch``), bugs included."""
    if step == 0 and r.first_step_lr is not None:
        return r.first_step_lr
    if r.decay_every:
        return r.lr * 0.5 ** ((step if r.decay_per_batch else epoch) // r.decay_every)
    return r.lr


def train(r: Recipe, model: ZooModel, framework: str) -> TrainingHistory:
    """Run the recipe with the flavor's model; the record's ``meta`` holds what curves of losses lack.

    meta: ``update_ratio`` (per step, the total update over the total weight norm), ``layer_update_ratio``
    (per parameter, its per-epoch mean), ``test_loss`` (on test data no run trains or validates on),
    ``dead_fraction`` (first-layer units silent on every training input), ``target_variance`` (regression:
    the loss of predicting the mean), ``bug``, ``seed``.
    """
    rng = np.random.default_rng(r.seed + 10_000)
    n = len(r.x_train)
    state = {"step": 0, "epoch": 0}
    updates: list[np.ndarray] = []
    weights: list[np.ndarray] = []

    def train_epoch(epoch: int) -> EpochResult:
        order = rng.permutation(n) if r.shuffle else np.arange(n)
        losses, norms, sizes = [], [], []
        for start in range(0, n, r.batch_size):
            idx = order[start:start + r.batch_size]
            loss, grad, update, weight = model.step(r.x_train[idx], r.y_train[idx], step_lr(r, epoch, state["step"]))
            losses.append(loss)
            norms.append(grad)
            updates.append(update)
            weights.append(weight)
            sizes.append(len(idx))
            state["step"] += 1
            if not np.isfinite(loss):
                break
        state["epoch"] = epoch + 1
        return EpochResult(np.asarray(losses), np.asarray(sizes), np.asarray(norms))

    history = run_epochs(train_epoch, lambda: model.loss(r.x_val, r.y_val, training=r.validate_in_train_mode),
                         r.epochs, get_lr=lambda: step_lr(r, state["epoch"], state["step"]),
                         layer_names=model.names, meta={"bug": r.bug, "seed": r.seed}, framework=framework)
    up, w = np.asarray(updates, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    per_step = up / np.maximum(w, 1e-30)
    steps = -(-n // r.batch_size)
    history.meta.update(
        update_ratio=(np.sqrt((up ** 2).sum(axis=1)) / np.sqrt((w ** 2).sum(axis=1))).tolist(),
        layer_update_ratio={name: [float(np.mean(per_step[e * steps:(e + 1) * steps, j]))
                                   for e in range(history.epochs)] for j, name in enumerate(model.names)},
        test_loss=float(model.loss(r.x_test, r.y_test)),
        dead_fraction=float(np.mean(np.all(model.hidden(r.x_train) <= 0, axis=0))),
        target_variance=float(np.var(r.y_train)) if r.task == "regress" else None)
    return history



def fix_of(bug: str) -> str | None:
    """The key of ``bug``'s fixed script for `recipe` (``recipe(fix_of(b), fixed=True)``): None for the
    plain script most bugs share, the bug's own name where its script differs (dropout, schedule, regression)."""
    return bug if bug in _SETTING else None


#: ln(1 + 9/e): the lowest cross-entropy that probabilities in [0, 1] taken as logits allow over 10 classes.
SOFTMAX_FLOOR = float(np.log1p(9 / np.e))


def signature(bug: str, run: TrainingHistory, fix: TrainingHistory) -> list[tuple[str, bool]]:
    """The signature lecture 07 states for ``bug``, measured on ``run`` against its ``fix``: (claim with the
    numbers, whether it holds). The lecture prints these and its tests assert them for several seeds."""
    it, fit = run.iter_loss, fix.iter_loss
    g, fg = run.iter_grad_norm, fix.iter_grad_norm
    per = int(round(run.iters_per_epoch or 1))
    layers = list(run.layer_grad_norm)
    first_w = layers[0]
    m, fm = run.meta, fix.meta
    out: list[tuple[str, bool]] = []

    def claim(text: str, holds: bool) -> None:
        out.append((text, bool(holds)))

    last, flast = run.train_loss[-1], fix.train_loss[-1]
    if bug == "accumulated_gradients":
        grow = float(np.max(g[:3 * per]) / np.max(fg[:3 * per]))
        claim(f"gradient norm in the first 3 epochs peaks at {grow:.0f}x the fixed run's peak (>= 5x)", grow >= 5)
        claim(f"the loss ends above where it started ({last:.3g} vs {it[0]:.3g})", last > it[0])
    elif bug == "unshuffled":
        p, fp = epoch_pattern(it, per), epoch_pattern(fit, per)
        claim(f"the per-iteration loss repeats from epoch to epoch (correlation {p:.2f}; fixed run {fp:.2f})",
              p >= 0.3 and fp <= 0.2)
        claim(f"the training loss ends at {last:.3g}, over 10x the fixed run's {flast:.3g}", last >= 10 * flast)
    elif bug == "softmax_before_ce":
        low = min(run.train_loss)
        claim(f"the loss never goes below ln(1 + 9/e) = {SOFTMAX_FLOOR:.2f} (lowest epoch: {low:.3g}); the fix "
              f"reaches {flast:.3g}", low >= SOFTMAX_FLOOR and flast < 0.3)
    elif bug == "dropout_never_off":
        r, fr = run.val_loss[-1] / last, fix.val_loss[-1] / flast
        claim(f"validation ends at {r:.2f}x the training loss (>= 0.8x); measured without dropout it is {fr:.2f}x "
              "(< 0.75x)", r >= 0.8 and fr < 0.75)
    elif bug == "noisy_labels":
        spread, fspread = float(np.std(it[-per:])), float(np.std(fit[-per:]))
        claim(f"the loss settles high ({last:.3g}; fixed run {flast:.3g})", last >= 0.8 and flast < 0.3)
        claim(f"the last epoch's per-iteration loss spreads {spread:.3g} (fixed run {fspread:.3g}, >= 3x less)",
              spread >= 3 * fspread)
        gl, fgl = float(np.mean(g[-per:])), float(np.mean(fg[-per:]))
        claim(f"the gradient norm in the last epoch is {gl:.3g}, not below the fixed run's {fgl:.3g}", gl >= fgl)
        claim(f"training ends below validation ({last:.3g} vs {run.val_loss[-1]:.3g}: memorising wrong labels); on "
              f"clean test labels the loss is {m['test_loss']:.3g} (< 0.75x training)",
              last < run.val_loss[-1] and m["test_loss"] < 0.75 * last)
    elif bug == "dead_relus":
        claim(f"the loss jumps {it[1] / it[0]:.0f}x at step 1 (>= 10x)", it[1] >= 10 * it[0])
        claim(f"{m['dead_fraction']:.0%} of the first layer's units are dead (fixed run: {fm['dead_fraction']:.0%})",
              m["dead_fraction"] >= 0.8 and fm["dead_fraction"] <= 0.25)
        claim(f"no epoch's mean gets far below the first step's loss (lowest {min(run.train_loss):.3g}, first "
              f"{it[0]:.3g}: >= 0.9x)", min(run.train_loss) >= 0.9 * it[0])
    elif bug == "val_leak":
        r, fr = run.val_loss[-1] / last, fix.val_loss[-1] / flast
        claim(f"validation ends at {r:.2f}x the training loss, under 0.75 of the fixed run's {fr:.2f}x", r < 0.75 * fr)
        claim(f"untouched test data ends at {m['test_loss']:.3g}, {m['test_loss'] / run.val_loss[-1]:.1f}x the "
              f"validation loss (>= 1.5x); in the fixed run {fm['test_loss'] / fix.val_loss[-1]:.1f}x (0.5x-1.5x)",
              m["test_loss"] >= 1.5 * run.val_loss[-1] and 0.5 <= fm["test_loss"] / fix.val_loss[-1] <= 1.5)
    elif bug == "sum_reduction":
        claim(f"the first loss is {it[0] / fit[0]:.0f}x the fixed run's and the first gradient {g[0] / fg[0]:.0f}x "
              "(the batch size, 64)", abs(it[0] / fit[0] - 64) < 1 and abs(g[0] / fg[0] - 64) < 1)
        claim(f"the loss then climbs to {max(it):.3g} per batch, {max(it) / it[0]:.0f}x its first value (>= 2x), "
              f"and {m['dead_fraction']:.0%} of the first layer's units end dead (>= 80%)",
              max(it) >= 2 * it[0] and m["dead_fraction"] >= 0.8)
    elif bug == "unnormalised_inputs":
        claim(f"the first loss is {it[0] / fit[0]:.0f}x the fixed run's, its gradient norm {g[0] / fg[0]:.0f}x: the "
              "gradient grows far more than the loss (>= 5x more) and is >= 100x the fixed run's",
              g[0] >= 100 * fg[0] and g[0] / fg[0] >= 5 * it[0] / fit[0] and it[0] > fit[0])
        claim(f"the loss peaks at {max(it):.3g}; {m['dead_fraction']:.0%} of the first layer's units end dead",
              max(it) >= 100 * fit[0] and m["dead_fraction"] >= 0.8)
    elif bug == "schedule_per_batch":
        u, fu = m["layer_update_ratio"][first_w][-1], next(iter(fm["layer_update_ratio"].values()))[-1]
        claim(f"the last epoch's learning rate is {run.lr[-1]:.1e} (fixed run {fix.lr[-1]:.1e})",
              run.lr[-1] <= 1e-6 * run.lr[0])
        claim(f"the first layer's update size per step ends at {u:.1e} (fixed run {fu:.1e})", u <= 1e-6 * fu)
        claim(f"the training loss freezes at {last:.3g}, over 10x the fixed run's {flast:.3g}", last >= 10 * flast)
        gl, fgl = float(np.mean(g[-per:])), float(np.mean(fg[-per:]))
        claim(f"the gradient norm stays normal: {gl:.3g} in the last epoch (fixed run {fgl:.3g}; within 3x)",
              fgl / 3 <= gl <= 3 * fgl)
    elif bug == "broadcast_target":
        var = m["target_variance"]
        claim(f"the loss never goes below {min(run.train_loss):.3g}, about the target's variance {var:.3g}; "
              f"the fix reaches {flast:.3g}", min(run.train_loss) >= 0.8 * var and flast <= 0.1 * var)
    elif bug == "head_only_optimizer":
        u = m["layer_update_ratio"][first_w]
        claim(f"the first layer's gradient norm is {np.mean(run.layer_grad_norm[first_w]):.3g} on average, its "
              "update size exactly 0 in every epoch", max(u) == 0 and min(run.layer_grad_norm[first_w]) > 0)
        claim(f"the training loss ends at {last:.3g}, over 5x the fixed run's {flast:.3g}", last >= 5 * flast)
    return out
