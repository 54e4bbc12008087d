"""Two baselines the diagnosis is compared with on the same labelled runs.

`naive`: the rule most tutorials state: a run whose last loss is not below its first (or NaN) diverged,
anything else is fine.

`autotrainer`: the curve rules of AUTOTRAINER (Zhang et al., ICSE 2021), as its monitor implements them
(``AutoTrainer/utils/monitor.py``: ``loss_issue``, ``ol_judge``, ``max_delta_acc``, ``gradient_issue`` and
``IssueMonitor.determine``), with its default parameters (zeta=0.03, eta=0.2, delta=0.01, Theta=0.7,
beta_1=1e-3, beta_2=1e-4, beta_3=70). Implemented: ``nan_loss`` (NaN/Inf loss, or validation loss >= 1e5),
``unstable_loss`` (ol_judge), ``sc_accuracy`` (slow convergence), ``not_converge`` and, from the recorded
per-layer gradient norms of the last epoch, ``vanish_gradient`` and ``explode_gradient``. Not implementable
from a training record: ``died_relu`` (needs the share of exactly-zero gradient entries) and the weight
checks. AUTOTRAINER reads *accuracy*; our records hold losses, so where it reads accuracy we feed it the
progress score ``1 - loss / first loss`` (0 at the start, 1 at zero loss), which moves the way accuracy does.
AUTOTRAINER has no overfitting or underfitting verdict (its overfitting rule is commented out), so it can
never name those labels.
"""
from __future__ import annotations

import math

import numpy as np

from losslab.core.history import TrainingHistory

ZETA, ETA, DELTA, THETA = 0.03, 0.2, 0.01, 0.7
BETA_1, BETA_2, BETA_3 = 1e-3, 1e-4, 70.0


def naive(h: TrainingHistory) -> str:
    first, last = h.train_loss[0], h.train_loss[-1]
    if not all(math.isfinite(v) for v in h.train_loss) or last >= first:
        return "diverging"
    return "healthy"


def autotrainer(h: TrainingHistory) -> str:
    train = np.asarray(h.train_loss, dtype=float)
    val = np.asarray(h.val_loss, dtype=float)
    if not (np.isfinite(train).all() and np.isfinite(val).all()) or (val.size and val[-1] >= 1e5):
        return "diverging"  # nan_loss -> 'explode'
    acc, val_acc = _progress(train), _progress(val) if val.size else _progress(train)
    not_converge = max(val_acc) < THETA or max(acc) < THETA
    sc_accuracy = _max_delta(val_acc) < DELTA and _max_delta(acc) < DELTA
    if not_converge or sc_accuracy:
        ratio, first = _layer_ratio(h)
        if ratio is not None and ratio > BETA_3:
            return "exploding_gradients"
        if ratio is not None and ratio < BETA_1 and first < BETA_2:
            return "vanishing_gradients"
        if sc_accuracy:
            return "slow_convergence"  # 'not_converge' issue
        return "healthy"
    if _ol_judge(acc):
        return "oscillation"  # 'unstable'
    return "healthy"


def _progress(loss: np.ndarray) -> list[float]:
    return list(1 - loss / loss[0]) if loss[0] > 0 else [0.0] * len(loss)


def _max_delta(acc: list[float]) -> float:
    return max([0.0] + [acc[i + 1] - acc[i] for i in range(len(acc) - 1)])


def _ol_judge(acc: list[float]) -> bool:
    maxima = [acc[i] for i in range(1, len(acc) - 1) if acc[i] - acc[i - 1] >= 0 and acc[i] - acc[i + 1] >= 0]
    minima = [acc[i] for i in range(1, len(acc) - 1) if acc[i] - acc[i - 1] <= 0 and acc[i] - acc[i + 1] <= 0]
    count = sum(1 for a, b in zip(maxima, minima) if a - b >= ZETA)
    return count >= ETA * len(acc)


def _layer_ratio(h: TrainingHistory) -> tuple[float | None, float]:
    """AUTOTRAINER's ``gra_rate``: first over last kernel gradient norm (here: the last recorded epoch)."""
    kernels = [v for k, v in h.layer_grad_norm.items() if "bias" not in k.lower() and v]
    if len(kernels) < 2 or not (math.isfinite(kernels[0][-1]) and math.isfinite(kernels[-1][-1])):
        return None, math.nan
    first, last = kernels[0][-1], kernels[-1][-1]
    return (first / last if last > 0 else math.inf), first
