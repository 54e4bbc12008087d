"""ema_smooth is TensorBoard's debiased EMA; decimate_minmax never loses a spike."""
import math

import numpy as np
import pytest

from losslab.core.smoothing import decimate_minmax, ema_smooth

pytestmark = pytest.mark.filterwarnings("error")


def tensorboard_ema(values, weight):
    """TensorBoard's resetDataset smoothing loop (vz_line_chart), transcribed."""
    last, seen, out = 0.0, 0, []
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        seen += 1
        out.append(last / (1 - weight**seen))
    return np.array(out)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.99, 0.999])
def test_ema_matches_tensorboard(train_run, weight):
    losses = np.array(train_run(lr=0.02, epochs=40)["iter_loss"])
    np.testing.assert_allclose(ema_smooth(losses, weight), tensorboard_ema(losses, weight), rtol=1e-10)


def test_ema_long_series_matches_loop(gd_losses):
    losses = gd_losses(200_000)
    for weight in (0.6, 0.95):
        np.testing.assert_allclose(ema_smooth(losses, weight), tensorboard_ema(losses, weight), rtol=1e-9)


def test_ema_is_debiased_and_nan_safe(train_run):
    losses = train_run(lr=0.02, epochs=10)["iter_loss"]
    losses[5], losses[9] = float("nan"), float("inf")
    smooth = ema_smooth(losses, 0.9)
    assert smooth[0] == pytest.approx(losses[0])  # no pull towards 0 at the start
    assert math.isnan(smooth[5]) and math.isinf(smooth[9])
    assert np.isfinite(np.delete(smooth, [5, 9])).all()  # later points are not poisoned
    np.testing.assert_allclose(smooth, tensorboard_ema(losses, 0.9), rtol=1e-10)


def test_ema_rejects_bad_weight():
    with pytest.raises(ValueError, match="weight"):
        ema_smooth([1.0, 2.0], 1.0)


def test_single_spike_in_ten_million_points_survives(gd_losses):
    n = 10**7
    y = gd_losses(n)
    spike_at, dip_at = 7_654_321, 1_234_567
    y[spike_at] = 10 * y.max()
    y[dip_at] = y.min() / 10
    x = np.arange(1, n + 1) / 1000.0  # an epoch axis, 1000 iterations per epoch
    xd, yd = decimate_minmax(x, y, 2000)
    assert len(xd) <= 2000
    assert np.all(np.diff(xd) > 0)  # still in order
    assert yd.max() == y[spike_at] and xd[yd.argmax()] == x[spike_at]
    assert yd.min() == y[dip_at] and xd[yd.argmin()] == x[dip_at]
    assert xd[0] == x[0] and xd[-1] == x[-1]
    assert y[:: n // 2000].max() < y[spike_at]  # plain striding would have lost it


def test_decimate_handles_nan_and_inf(gd_losses):
    y = gd_losses(100_000)
    y[50_000] = np.inf
    y[90_000:] = np.nan  # a run that ended in NaN: the tail bins are all NaN
    xd, yd = decimate_minmax(np.arange(y.size), y, 500)
    assert np.isinf(yd).sum() == 1 and xd[np.isinf(yd)][0] == 50_000
    assert np.isnan(yd[xd >= 90_000]).all() and (xd >= 90_000).any()  # the gap stays a gap
    assert np.isfinite(yd[xd < 90_000][np.isfinite(yd[xd < 90_000])]).all()


def test_decimate_short_and_bad_input():
    xd, yd = decimate_minmax([1, 2, 3], [3.0, 2.0, 1.0], 10)
    assert xd.tolist() == [1, 2, 3] and yd.tolist() == [3.0, 2.0, 1.0]
    with pytest.raises(ValueError, match="same length"):
        decimate_minmax([1, 2], [1.0], 10)
    with pytest.raises(ValueError, match="max_points"):
        decimate_minmax(range(10), range(10), 3)
