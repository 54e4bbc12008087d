"""Side-by-side timings for losslab's training loop and imports (a script, not a test).

1. `train_with_loss_tracking` vs a plain hand-written loop on the same SimpleNet, data and seed
   (torch, and tensorflow vs a plain per-step tf.function loop); the plain loops record the per-iteration
   loss the usual way, with one host copy (``.item()`` / ``.numpy()``) per step. The repeats are
   interleaved (plain, tracked, tracked + norms, then again in a rotated order), so load from other
   processes hits every variant alike; each repeat's ratio is taken against the plain run next to it, and
   the median of those paired ratios is quoted. Goal: tracked <= 1.10x plain in both frameworks.
2. import time of `losslab.torch` / `losslab.tensorflow` vs the framework alone.

Run: `.venv/bin/python benchmarks/bench_training.py` (make bench runs every benchmark).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EPOCHS, REPEATS = 20, 7


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(variants: dict, repeats: int = REPEATS) -> dict[str, tuple[float, float]]:
    """{name: (median seconds, median ratio to the plain run of the same repeat)}; the first variant is plain.

    Each repeat runs every variant once, in an order rotated by one per repeat, after one warm-up of each.
    """
    names = list(variants)
    for name in names:
        variants[name]()  # warm-up: tracing, allocator, caches
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(seconds(variants[name]))
    plain = times[names[0]]
    return {name: (statistics.median(t), statistics.median(a / b for a, b in zip(t, plain)))
            for name, t in times.items()}


def torch_rows() -> dict[str, tuple[float, float]]:
    import torch
    from losslab.torch import SimpleNet, create_data_loaders, generate_synthetic_data, train_with_loss_tracking

    torch.set_num_threads(1)
    X, y = generate_synthetic_data(1000, 10, 0.1, seed=0)
    train, val = create_data_loaders(X, y, 0.8, 32, True, seed=0)
    crit = torch.nn.MSELoss()

    def plain():
        torch.manual_seed(0)
        model = SimpleNet(10, 64, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        iter_loss, val_loss = [], []
        for _ in range(EPOCHS):
            model.train()
            for xb, yb in train:
                opt.zero_grad()
                loss = crit(model(xb), yb)
                loss.backward()
                opt.step()
                iter_loss.append(loss.item())
            model.eval()
            with torch.no_grad():
                val_loss.append(sum(crit(model(xb), yb).item() * len(xb) for xb, yb in val) / 200)

    def ours(track: bool):
        def run():
            torch.manual_seed(0)
            model = SimpleNet(10, 64, 1)
            train_with_loss_tracking(model, train, val, crit, torch.optim.SGD(model.parameters(), lr=0.01),
                                     EPOCHS, track_grad_norm=track)
        return run

    return interleaved({"torch plain loop (loss.item() per step)": plain,
                        "torch train_with_loss_tracking, per-iteration loss": ours(False),
                        "torch train_with_loss_tracking, + per-iteration grad norms": ours(True)})


def tf_rows() -> dict[str, tuple[float, float]]:
    import keras
    import tensorflow as tf
    from losslab.tensorflow import SimpleNet, create_data_loaders, generate_synthetic_data, train_with_loss_tracking

    X, y = generate_synthetic_data(1000, 10, 0.1, seed=0)
    train, val = create_data_loaders(X, y, 0.8, 32, True, seed=0)

    def plain():
        keras.utils.set_random_seed(0)
        model, crit = SimpleNet(10, 64, 1), keras.losses.MeanSquaredError()
        opt = keras.optimizers.SGD(0.01)

        @tf.function
        def step(xb, yb):
            with tf.GradientTape() as tape:
                loss = crit(yb, model(xb, training=True))
            opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        iter_loss = []
        for _ in range(EPOCHS):
            for xb, yb in train:
                iter_loss.append(float(step(xb, yb)))
            float(sum(crit(yb, model(xb)) for xb, yb in val))

    def ours(track: bool):
        def run():
            keras.utils.set_random_seed(0)
            train_with_loss_tracking(SimpleNet(10, 64, 1), train, val, keras.losses.MeanSquaredError(),
                                     keras.optimizers.SGD(0.01), EPOCHS, track_grad_norm=track)
        return run

    return interleaved({"tensorflow plain per-step tf.function loop (float() per step)": plain,
                        "tensorflow train_with_loss_tracking, per-iteration loss": ours(False),
                        "tensorflow train_with_loss_tracking, + per-iteration grad norms": ours(True)}, 5)


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(3)]
    return statistics.median(runs)


def main() -> None:
    print(f"== training loop: SimpleNet(10, 64, 1), 800 samples, batch 32, {EPOCHS} epochs; repeats interleaved; "
          "median wall time and median paired ratio ==")
    for rows in (torch_rows(), tf_rows()):
        (_, _), (_, tracked), (_, norms) = rows.values()
        for name, (t, ratio) in rows.items():
            print(f"{name:66s} {t:7.3f} s   ratio vs plain {ratio:5.2f}")
        verdict = "met" if tracked <= 1.10 else "MISSED"
        print(f"{'  tracked (per-iteration loss) vs plain: goal <= 1.10x':66s} {verdict}")
        print(f"{'  added cost of per-iteration grad norms':66s} {norms / tracked - 1:+7.1%}")
    print("\n== import time (median of 3 fresh interpreters) ==")
    for fw, ours in (("torch", "losslab.torch"), ("tensorflow", "losslab.tensorflow")):
        t_fw, t_ours = import_time(fw), import_time(ours)
        print(f"import {fw:12s} {t_fw:6.2f} s   import {ours:20s} {t_ours:6.2f} s   ratio {t_ours / t_fw:5.2f}")
    print(f"import {'losslab':12s} {import_time('losslab'):6.2f} s   (framework-free core)")


if __name__ == "__main__":
    main()
