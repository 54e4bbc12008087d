"""Benchmark: `plot_loss_curves` on a 10^7-iteration record vs a plain `plt.plot` of the same points.

Both are timed side by side in this one run, from the `TrainingHistory` in memory to PNG bytes (savefig), and
interleaved so that load from other processes on the machine hits both alike; the speed-up quoted is the median
of each repeat's paired ratio. Targets: ours < 1 s and
>= 10x faster. Also prints the import time of `losslab` (fresh interpreters).

The record is a real optimizer run, not random numbers standing in for a loss: online minibatch SGD
(batch 100, a fresh batch per step, 10^5 steps per epoch, 100 epochs) on y = 3x + noise, x and noise
Gaussian. A step only needs the batch's sums (Sxx, Sxy, Syy), which are drawn exactly from their joint
distribution (Sxx ~ chi2(B); the noise splits into its component along x and a chi2(B-1) rest), and
the update ``w <- (1 - lr*Sxx/B) w + lr*Sxy/B`` is linear in w, so blocks of steps are solved exactly
with cumulative products (checked against a plain loop below): 10^7 steps take seconds, not minutes.

Run: MPLBACKEND=Agg .venv/bin/python benchmarks/bench_plotting.py
"""
from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from losslab.core.history import TrainingHistory  # noqa: E402
from losslab.core.plotting import plot_loss_curves  # noqa: E402

N_STEPS = 10**7
BATCH = 100
BATCHES_PER_EPOCH = 100_000
LR = 2e-7  # small enough that the loss falls over tens of epochs
BLOCK = 65_536  # cumulative products stay near 1 at this step size: no under- or overflow
REPEATS = 5


def sgd_problem(n: int, seed: int = 0, noise: float = 1.0):
    """Per-step minibatch sums (Sxx, Sxy, Syy) of y = 3x + noise for fresh Gaussian batches."""
    rng = np.random.default_rng(seed)
    sxx = rng.chisquare(BATCH, size=n)
    along = noise * np.sqrt(sxx) * rng.normal(size=n)  # sum of x_i * noise_i given the batch's x
    rest = noise**2 * rng.chisquare(BATCH - 1, size=n)  # the noise's energy orthogonal to x
    sxy = 3.0 * sxx + along
    syy = 9.0 * sxx + 6.0 * along + along**2 / sxx + rest
    return sxx, sxy, syy, np.full(n, LR)


def sgd_losses(n: int, seed: int = 0) -> np.ndarray:
    """Minibatch loss mean(1/2 (x w_t - y)^2) of each SGD step from w_0 = 0, vectorised block by block."""
    sxx, sxy, syy, lr = sgd_problem(n, seed)
    a, b = 1.0 - lr * sxx / BATCH, lr * sxy / BATCH
    w = np.empty(n)
    w0 = 0.0
    for s in range(0, n, BLOCK):
        prod = np.cumprod(a[s:s + BLOCK])
        after = prod * (w0 + np.cumsum(b[s:s + BLOCK] / prod))  # w after each step of the block
        w[s] = w0
        w[s + 1:s + BLOCK] = after[:-1]
        w0 = after[-1]
    return (w * w * sxx - 2 * w * sxy + syy) / (2 * BATCH)


def sgd_losses_loop(n: int, seed: int = 0) -> np.ndarray:
    """The same run as a plain loop: the reference the vectorised version must match."""
    sxx, sxy, syy, lr = sgd_problem(n, seed)
    w, out = 0.0, np.empty(n)
    for t in range(n):
        out[t] = (w * w * sxx[t] - 2 * w * sxy[t] + syy[t]) / (2 * BATCH)
        w -= lr[t] * (w * sxx[t] - sxy[t]) / BATCH
    return out


def png_seconds(draw) -> float:
    start = time.perf_counter()
    fig = draw()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    elapsed = time.perf_counter() - start
    plt.close(fig)
    return elapsed


def ours(history: TrainingHistory):
    return lambda: plot_loss_curves(history, title="10^7 iterations", show=False)


def plain(points: list[float]):
    def draw():
        fig, ax = plt.subplots(figsize=(8.0, 4.8))
        ax.plot(points)
        return fig
    return draw


def import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env={**os.environ, "MPLBACKEND": "Agg"}).stdout) for _ in range(3)]
    return min(runs)


def main() -> None:
    np.testing.assert_allclose(sgd_losses(200_000), sgd_losses_loop(200_000), rtol=1e-8, atol=1e-12)
    start = time.perf_counter()
    losses = sgd_losses(N_STEPS)
    print(f"record: {N_STEPS:.0e} SGD steps computed in {time.perf_counter() - start:.2f} s; "
          f"loss {losses[:1000].mean():.3g} (first 1000) -> {losses[-10**6:].mean():.3g} (last 10^6), "
          f"max spike {losses.max():.3g} at step {losses.argmax()}")
    epochs = losses.reshape(-1, BATCHES_PER_EPOCH).mean(axis=1).tolist()
    history = TrainingHistory(train_loss=epochs)  # filled epoch by epoch, as the training loop fills it
    for start in range(0, N_STEPS, BATCHES_PER_EPOCH):
        history.extend_iterations("iter_loss", losses[start:start + BATCHES_PER_EPOCH])
    png_seconds(ours(history))  # warm-up: first use of fonts and the Agg renderer
    print(f"\nto PNG (savefig), 10^7 points from one TrainingHistory, same figure size and dpi; "
          f"median of {REPEATS}, interleaved:")
    t_ours, t_plain = [], []
    for _ in range(REPEATS):
        t_ours.append(png_seconds(ours(history)))
        t_plain.append(png_seconds(plain(history.iter_loss)))
    ours_s, plain_s = statistics.median(t_ours), statistics.median(t_plain)
    paired = statistics.median(p / o for p, o in zip(t_plain, t_ours))  # each pair shares the machine's load
    print(f"  plot_loss_curves(history) (min/max band):  {ours_s:6.3f} s   runs "
          f"{', '.join(f'{t:.3f}' for t in t_ours)}")
    print(f"  plain plt.plot(history.iter_loss):         {plain_s:6.3f} s   runs "
          f"{', '.join(f'{t:.3f}' for t in t_plain)}")
    print(f"  speed-up {paired:.1f}x (median of the paired ratios; ratio of the medians {plain_s / ours_s:.1f}x)   "
          f"(targets: ours < 1 s {'met' if ours_s < 1 else 'MISSED'}; >= 10x {'met' if paired >= 10 else 'MISSED'})")
    start = time.perf_counter()
    TrainingHistory(train_loss=epochs, iter_loss=losses.tolist())
    print(f"  (a record given 10^7 Python floats converts them to its float64 array once: "
          f"{time.perf_counter() - start:.3f} s)")

    print("\nimport time, fresh interpreter, best of 3:")
    for statement in ("import numpy", "import losslab", "import matplotlib.pyplot", "import losslab.core.plotting"):
        print(f"  {statement:<30} {import_seconds(statement):.3f} s")
    print("\n(2 shared CPU cores: timings are noisy; compare the side-by-side ratio, not absolute numbers.)")


if __name__ == "__main__":
    main()
