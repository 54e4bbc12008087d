"""Curve smoothing and decimation for plots: numpy only, vectorised, safe with NaN and Inf.

`ema_smooth` is TensorBoard's smoothing slider, so a curve looks the same here as in TensorBoard.
`decimate_minmax` is how a 10^7-point record draws as fast as a 10^3-point one without hiding a spike.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

# Block length for the vectorised EMA is chosen so that weight**-block <= 1e30: the in-block cumulative
# sum stays finite for |values| below 1e270 (larger inputs are rescaled first), and two carried blocks
# bring the truncation error of the block-to-block recursion below weight**(2*block) <= 1e-60.
_BLOCK_RANGE = 1e30
_CARRIED_BLOCKS = 2


def ema_smooth(values: ArrayLike, weight: float = 0.6) -> np.ndarray:
    """TensorBoard's debiased exponential moving average of `values` (``weight`` in [0, 1)).

    Like Adam's moment estimates, the running average starts at 0 and is divided by
    ``1 - weight**k`` (k = finite points seen so far), so the first points are not dragged towards 0.
    Non-finite points are passed through unchanged and skipped by the average, as TensorBoard does:
    a NaN at one step does not poison every later smoothed value.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight!r}")
    y = np.array(values, dtype=float).ravel()
    finite = np.isfinite(y)
    all_finite = bool(finite.all())
    x = y if all_finite else y[finite]
    if x.size == 0 or weight == 0.0:
        return y
    scale = np.abs(x).max()
    if scale > 1e300 / _BLOCK_RANGE:  # keep weight**-block * |x| finite
        x = x / scale
    else:
        scale = 1.0
    debias = -np.expm1(np.arange(1, x.size + 1) * np.log(weight))  # 1 - weight**k, exact for small k
    smoothed = _ema(x, weight) / debias * scale
    if all_finite:
        return smoothed
    y[finite] = smoothed
    return y


def _ema(x: np.ndarray, w: float) -> np.ndarray:
    """Biased EMA ``s[i] = w*s[i-1] + (1-w)*x[i]`` with ``s[-1] = 0``, in blocks, without a Python loop.

    Inside a block the recursion is a scaled cumulative sum; across blocks the state carried from
    earlier blocks decays by ``w**block`` per block, so a few carried blocks are exact to float64.
    """
    n = x.size
    block = int(min(n, max(1, np.floor(np.log(_BLOCK_RANGE) / -np.log(w)))))
    nblocks = -(-n // block)
    padded = np.zeros(nblocks * block)
    padded[:n] = x
    rows = padded.reshape(nblocks, block)
    k = np.arange(block)
    local = (1.0 - w) * np.cumsum(rows * w ** -k, axis=1) * w**k  # state from this block only
    ends = local[:, -1]
    carry = np.zeros(nblocks)  # state at the end of the previous block
    decay = w**block
    for j in range(_CARRIED_BLOCKS):
        if j + 1 < nblocks:
            carry[j + 1:] += decay**j * ends[: nblocks - j - 1]
    return (local + carry[:, None] * w ** (k + 1)).ravel()[:n]


def decimate_minmax(x: ArrayLike, y: ArrayLike, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a long curve to at most `max_points` points that draw the same picture.

    The points are cut into equal runs (bins by position, so `x` should be sorted, e.g. iterations);
    each run keeps its lowest and its highest point, in their original order, plus the first and last
    point of the curve. A single spike is therefore always kept, at its true x. NaN points are never
    chosen over numbers (a run of only NaN keeps one NaN, so the line shows the gap); +Inf and -Inf
    count as the extremes they are.
    """
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    keep = minmax_indices(ya, max_points)
    return xa[keep], ya[keep]


def minmax_indices(y: np.ndarray, max_points: int = 2000) -> np.ndarray:
    """The sorted positions `decimate_minmax` keeps, for callers that build x only for those points."""
    ya = np.asarray(y, dtype=float).ravel()
    if isinstance(max_points, bool) or not float(max_points).is_integer():
        raise TypeError(f"max_points must be a whole number, got {max_points!r}")
    max_points = int(max_points)
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4 (first, last and one min/max pair), got {max_points}")
    n = ya.size
    if n <= max_points:
        return np.arange(n)
    imin, imax = _bin_extrema(ya, (max_points - 2) // 2)
    return np.unique(np.concatenate(([0, n - 1], imin, imax)))  # sorted: each bin's pair stays in order


def minmax_envelope(y: ArrayLike, nbins: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin centre positions, per-bin minimum, per-bin maximum) of a long curve.

    Drawn as a filled band this is the picture the min/max line draws, at a fraction of the cost:
    Agg fills one polygon quickly but strokes thousands of full-height zigzag segments slowly.
    """
    ya = np.asarray(y, dtype=float).ravel()
    if ya.size == 0 or nbins < 1:
        raise ValueError(f"need a non-empty curve and nbins >= 1, got {ya.size} points and nbins={nbins}")
    imin, imax = _bin_extrema(ya, min(nbins, ya.size))
    size = -(-ya.size // min(nbins, ya.size))
    starts = np.arange(0, ya.size, size)
    centres = (starts + np.minimum(starts + size, ya.size) - 1) / 2
    return centres, ya[imin], ya[imax]


def _bin_extrema(ya: np.ndarray, nbins: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of each bin's minimum and maximum (equal bins by position, the last may be shorter)."""
    n = ya.size
    size = -(-n // nbins)
    if np.isnan(ya.max()):  # NaN propagates through max: one pass, no mask, for the common all-numbers case
        nan = np.isnan(ya)
        low, high = np.where(nan, np.inf, ya), np.where(nan, -np.inf, ya)
    else:
        low = high = ya
    full = (n // size) * size
    starts = np.arange(0, full, size)
    imin = starts + low[:full].reshape(-1, size).argmin(axis=1)
    imax = starts + high[:full].reshape(-1, size).argmax(axis=1)
    if full < n:
        imin = np.append(imin, full + low[full:].argmin())
        imax = np.append(imax, full + high[full:].argmax())
    return imin, imax
