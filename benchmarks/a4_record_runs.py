"""Record the training runs of assignment a4_curve_clinic from real training: `python benchmarks/a4_record_runs.py
--write`.

Each run trains a small Keras MLP on scikit-learn's digits with losslab's loop and one injected bug (none of them
lecture 07's zoo). The students' runs go to ``source/a4_curve_clinic/<name>.json`` (released, without the bug's
name); the unseen runs and the answer key go into the hidden test cells of the source notebook, between the
``RECORDED`` markers (hidden cells are stripped from the release, so students can read neither). Without
``--write`` (as `make bench` runs it) it re-records the runs and exits 1 if one differs from the committed record
beyond rounding; then regenerate the release (`make release`). ``--robustness SEED ...`` records every recipe
again with other seeds and prints how many of them the notebook's reference ``name_bug`` names right.

This script lives outside ``source/`` on purpose: nbgrader copies that folder into the release, and the recipes
below name each run's bug.
"""
from __future__ import annotations

import argparse
import ast
import math
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
AID = "a4_curve_clinic"
FOLDER = REPO / "source" / AID
NOTEBOOK = FOLDER / f"{AID}.ipynb"
RUNS = FOLDER  # flat, next to the notebook: a student uploads them to Colab with it, one by one
#: A hidden test cell's recorded block runs from BEGIN.format(block) to END; the blocks are "seen" and "unseen".
BEGIN, END = "# --- RECORDED {} by benchmarks/a4_record_runs.py: do not edit ---", "# --- END RECORDED ---"

#: The bugs a student chooses from (the notebook lists the same names, in this order).
BUGS = ("weight_decay_too_strong", "no_warmup_large_lr", "batchnorm_tiny_batches", "augmented_validation",
        "clip_too_small")
#: At most this many per-iteration losses are kept per epoch (evenly spaced), so a run with tiny batches stays small.
ITERS_PER_EPOCH_KEPT = 25
SIGNIFICANT = 4


@dataclass(frozen=True)
class Recipe:
    """One run: the healthy setup (Adam 1e-3, batches of 32) with the changes that inject its bug."""

    name: str
    bug: str
    seed: int
    epochs: int = 15
    lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 0.0
    batchnorm: bool = False
    val_noise: float = 0.0
    clip: float | None = None
    optimizer: str = "adam"


#: The five runs the students see, one per bug, in a shuffled order.
SEEN = [
    Recipe("run_A", "clip_too_small", seed=1, optimizer="momentum", lr=0.05, clip=0.02),
    Recipe("run_B", "augmented_validation", seed=2, val_noise=1.0),
    Recipe("run_C", "weight_decay_too_strong", seed=3, weight_decay=20.0),
    Recipe("run_D", "batchnorm_tiny_batches", seed=4, batchnorm=True, batch_size=2, epochs=6),
    Recipe("run_E", "no_warmup_large_lr", seed=5, lr=0.05),
]
#: Runs no student sees: other seeds and other strengths of the same bugs (the hidden tests' inputs).
UNSEEN = [
    Recipe("hidden_1", "no_warmup_large_lr", seed=11, lr=0.03, batch_size=64),
    Recipe("hidden_2", "clip_too_small", seed=12, optimizer="momentum", lr=0.1, clip=0.05, batch_size=64),
    Recipe("hidden_3", "batchnorm_tiny_batches", seed=13, batchnorm=True, batch_size=3, epochs=6),
    Recipe("hidden_4", "weight_decay_too_strong", seed=14, weight_decay=8.0, lr=3e-3),
    Recipe("hidden_5", "augmented_validation", seed=15, val_noise=0.7, batch_size=64),
]


def digits(seed: int, n_train: int = 600, n_val: int = 300):
    """Centred and scaled 8x8 digits (64 features, 10 classes), split at random with ``seed``."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))
    train, val = order[:n_train], order[n_train:n_train + n_val]
    # one scale for all pixels: a per-pixel std is near 0 at the image's edge and would blow rare values up
    mean, std = x[train].mean(axis=0), x[train].std()
    scale = lambda a: ((a - mean) / std).astype("float32")  # noqa: E731
    return scale(x[train]), y[train].astype("int64"), scale(x[val]), y[val].astype("int64")


def record(recipe: Recipe):
    """Train the recipe's run for real and return its `TrainingHistory`, reduced to what the students get."""
    import keras
    import tensorflow as tf
    from losslab.tensorflow import set_seed, train_with_loss_tracking

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already ran in this process (a test worker): its thread counts stay
        pass
    set_seed(recipe.seed)
    x, y, xv, yv = digits(recipe.seed)
    layers: list[Any] = [keras.Input((x.shape[1],))]
    for i in (1, 2):
        if recipe.batchnorm:
            layers += [keras.layers.Dense(64, name=f"dense{i}"), keras.layers.BatchNormalization(name=f"bn{i}"),
                       keras.layers.ReLU()]
        else:
            layers.append(keras.layers.Dense(64, activation="relu", name=f"dense{i}"))
    model = keras.Sequential(layers + [keras.layers.Dense(10, name="logits")])
    if recipe.optimizer == "momentum":
        optimizer = keras.optimizers.SGD(recipe.lr, momentum=0.9)
    else:
        optimizer = keras.optimizers.AdamW(recipe.lr, weight_decay=recipe.weight_decay) if recipe.weight_decay \
            else keras.optimizers.Adam(recipe.lr)
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=recipe.seed).batch(recipe.batch_size)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(100)
    if recipe.val_noise:  # random augmentation (input noise) in the validation pipeline, none in training's
        val = val.map(lambda a, b: (a + tf.random.normal(tf.shape(a), stddev=recipe.val_noise), b))
    history = train_with_loss_tracking(model, train, val, "cross_entropy", optimizer, num_epochs=recipe.epochs,
                                       clip_grad_norm=recipe.clip)
    return reduce(history, recipe)


def _round(values) -> list[float]:
    return [float(f"{v:.{SIGNIFICANT}g}") if math.isfinite(v) else float(v) for v in np.asarray(values, float)]


def reduce(history, recipe: Recipe):
    """What a student gets: per-epoch series, per-layer gradient norms and up to `ITERS_PER_EPOCH_KEPT` losses per
    epoch, rounded; no timings (they are the machine's, not the run's) and nothing that names the bug."""
    from losslab import TrainingHistory

    per_epoch = len(history.iter_loss) // max(history.epochs, 1)
    keep = np.unique(np.linspace(0, per_epoch - 1, min(per_epoch, ITERS_PER_EPOCH_KEPT)).round().astype(int))
    index = (np.arange(history.epochs)[:, None] * per_epoch + keep[None, :]).ravel()
    return TrainingHistory(
        train_loss=_round(history.train_loss), val_loss=_round(history.val_loss), grad_norm=_round(history.grad_norm),
        lr=_round(history.lr), iter_loss=np.asarray(_round(history.iter_loss[index])),
        layer_grad_norm={k.split("/", 1)[-1].replace("/", "."): _round(v) for k, v in history.layer_grad_norm.items()},
        framework="tensorflow",
        meta={"run": recipe.name, "task": "digits (10 classes, 600 training and 300 validation images), "
              "MLP 64-64-10, cross-entropy", "epochs": recipe.epochs, "iterations_per_epoch_recorded": len(keep)})


def summary(history) -> dict[str, float]:
    """The numbers a fresh recording must reproduce: start, end and extremes of the curves."""
    return {"train_first": history.train_loss[0], "train_last": history.train_loss[-1],
            "val_first": history.val_loss[0], "val_last": history.val_loss[-1],
            "val_min": min(history.val_loss), "grad_norm_first": history.grad_norm[0],
            "grad_norm_last": history.grad_norm[-1], "iter_loss_max": float(np.max(history.iter_loss))}


def hidden_block(block: str, recipes: list[Recipe], runs: dict[str, Any]) -> str:
    """The text of one recorded block: the runs' records (``_RUNS``) and their bugs (``_KEY``)."""
    if any(not math.isfinite(v) for h in runs.values() for v in h.train_loss + h.val_loss):
        raise ValueError("a recorded run holds NaN or Inf: a Python literal cannot (change the recipe)")
    key = {r.name: r.bug for r in recipes}
    data = {r.name: runs[r.name].to_dict() for r in recipes}
    return "\n".join([BEGIN.format(block), f"_KEY = {key!r}", f"_RUNS = {data!r}", END])  # Python literals


def _block_cell(nb, block: str):
    cells = [c for c in nb.cells if BEGIN.format(block) in c.source]
    if len(cells) != 1:
        raise SystemExit(f"{NOTEBOOK.name}: expected one cell holding {BEGIN.format(block)!r}, found {len(cells)}")
    return cells[0]


def write(runs: dict[str, Any]) -> None:
    """The seen runs as JSON files; both recorded blocks into the source notebook's hidden test cells."""
    import nbformat

    for recipe in SEEN:
        runs[recipe.name].save(RUNS / f"{recipe.name}.json")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for block, recipes in (("seen", SEEN), ("unseen", UNSEEN)):
        cell = _block_cell(nb, block)
        head, rest = cell.source.split(BEGIN.format(block), 1)
        cell.source = head + hidden_block(block, recipes, runs) + rest.split(END, 1)[1]
    NOTEBOOK.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def recorded(block: str) -> tuple[dict[str, str], dict[str, Any]]:
    """(run -> bug, run -> TrainingHistory) as the source notebook's recorded block holds them."""
    import nbformat
    from losslab import TrainingHistory

    lines = _block_cell(nbformat.read(NOTEBOOK, as_version=4), block).source.split("\n")
    value = {name: ast.literal_eval(next(x for x in lines if x.startswith(f"{name} = "))[len(name) + 3:])
             for name in ("_KEY", "_RUNS")}
    return value["_KEY"], {k: TrainingHistory.from_dict(v) for k, v in value["_RUNS"].items()}


def committed(recipe: Recipe):
    from losslab import TrainingHistory

    if recipe in SEEN:
        return TrainingHistory.load(RUNS / f"{recipe.name}.json")
    return recorded("unseen")[1][recipe.name]


def differences(recipe: Recipe, fresh, rtol: float = 0.02) -> list[str]:
    """Where a fresh recording's summary differs from the committed one by more than ``rtol``."""
    old, new = summary(committed(recipe)), summary(fresh)
    return [f"{recipe.name} {k}: committed {old[k]:.4g}, fresh {new[k]:.4g}" for k in old
            if not math.isclose(old[k], new[k], rel_tol=rtol, abs_tol=1e-3)]


def reference_name_bug():
    """The source notebook's reference ``name_bug`` (its solution cell, delimiters dropped)."""
    import nbformat

    cell = next(c for c in nbformat.read(NOTEBOOK, as_version=4).cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "name_bug")
    namespace: dict[str, Any] = {"np": np, "math": math}  # what the notebook's setup cell imported
    exec("\n".join(x for x in cell.source.split("\n") if "SOLUTION" not in x), namespace)  # noqa: S102 (our own)
    return namespace["name_bug"]


def robustness(seeds: list[int]) -> int:
    """How the reference rules fare on runs nobody tuned them on: every recipe again with other seeds."""
    name_bug, right, total = reference_name_bug(), 0, 0
    for recipe in SEEN + UNSEEN:
        for seed in seeds:
            label = name_bug(record(replace(recipe, name=f"{recipe.name}_seed{seed}", seed=seed)))
            right, total = right + (label == recipe.bug), total + 1
            print(f"{recipe.name} seed {seed}: {recipe.bug} -> {label}", flush=True)
    print(f"the reference name_bug names {right} of {total} fresh-seed runs right")
    return 0 if right == total else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write every run (the runs, the notebook's blocks)")
    parser.add_argument("--only", nargs="*", help="run names to record and check (default: all)")
    parser.add_argument("--robustness", nargs="+", type=int, metavar="SEED",
                        help="instead: every recipe with these seeds, named by the reference name_bug")
    args = parser.parse_args(argv)
    if args.robustness:
        return robustness(args.robustness)
    if args.write and args.only:
        raise SystemExit("--write records every run: leave out --only")
    recipes = [r for r in SEEN + UNSEEN if not args.only or r.name in args.only]
    fresh = {}
    for recipe in recipes:
        fresh[recipe.name] = record(recipe)
        print(recipe.name, recipe.bug, {k: round(v, 4) for k, v in summary(fresh[recipe.name]).items()}, flush=True)
    if args.write:
        write(fresh)
        print(f"wrote {len(SEEN)} runs to {RUNS.relative_to(REPO)} and {len(UNSEEN)} unseen ones into "
              f"{NOTEBOOK.relative_to(REPO)}: now regenerate the release")
        return 0
    problems = [p for r in recipes for p in differences(r, fresh[r.name])]
    print("\n".join(problems) or "every recording matches its committed summary")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
