"""Property-based tests (Hypothesis) over losslab's public API: records, epoch means, plots, smoothing, range test.

Derandomized and bounded (a few dozen examples each, a handful where a framework trains), so the suite is the
same on every run and stays fast on 2 cores. The diagnosis' properties live in tests/diagnosis.
"""
import io
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losslab import (TrainingHistory, decimate_minmax, ema_smooth, plot_histories, plot_loss_curves,
                     plot_training_dashboard, suggest_lr)

pytestmark = pytest.mark.filterwarnings("error")  # a warning on stderr costs a student points

FAST = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=12, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
loss_value = st.one_of(st.floats(min_value=-1e3, max_value=1e12, allow_nan=False), st.just(math.nan),
                       st.just(math.inf), st.just(-math.inf), st.just(1e300))


@st.composite
def records(draw, values=any_float, max_epochs=12):
    """A record of any length whose series hold any floats, NaN and +-Inf included."""
    n = draw(st.integers(1, max_epochs))
    series = lambda k: draw(st.lists(values, min_size=k, max_size=k))  # noqa: E731
    per_epoch = draw(st.integers(0, 4))
    return TrainingHistory(
        train_loss=series(n), val_loss=series(draw(st.sampled_from([0, n]))), grad_norm=series(draw(
            st.sampled_from([0, n]))), lr=series(draw(st.sampled_from([0, n]))),
        iter_loss=series(n * per_epoch), iter_grad_norm=series(draw(st.sampled_from([0, n * per_epoch]))),
        layer_grad_norm={name: series(n) for name in draw(st.lists(st.sampled_from(["w0", "b0", "out.w"]),
                                                                    unique=True, max_size=2))})


# -- records --------------------------------------------------------------------------------------
@FAST
@given(records())
def test_any_record_round_trips_through_json(tmp_path_factory, h):
    path = tmp_path_factory.mktemp("json") / "run.json"
    assert TrainingHistory.load(h.save(path)) == h


@FAST
@given(records())
def test_any_record_round_trips_its_epoch_table_through_csv(tmp_path_factory, h):
    back = TrainingHistory.load(h.save(tmp_path_factory.mktemp("csv") / "run.csv"))
    for key in ("train_loss", "val_loss", "grad_norm", "lr"):
        np.testing.assert_array_equal(back[key], h[key])
    assert back.layer_grad_norm.keys() == h.layer_grad_norm.keys()
    assert back.best_epoch == h.best_epoch


# -- epoch means are the full-data loss when nothing moves (lr 0) ---------------------------------------
@SLOW
@given(n=st.integers(1, 40), batch=st.integers(1, 17))
def test_torch_epoch_means_equal_the_full_data_loss_at_lr_0(n, batch):
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    import losslab.torch as ll

    X, y = ll.generate_synthetic_data(2 * n, 3, seed=n)
    ll.set_seed(batch)
    model = ll.SimpleNet(3, 4, 1)
    loaders = [DataLoader(TensorDataset(X[i::2], y[i::2]), batch_size=batch) for i in (0, 1)]
    h = ll.train_with_loss_tracking(model, *loaders, torch.nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0),
                                    1, track_grad_norm=False)
    with torch.no_grad():
        full = [float(torch.nn.functional.mse_loss(model(X[i::2]), y[i::2])) for i in (0, 1)]
    assert h.train_loss[0] == pytest.approx(full[0], rel=1e-5) and h.val_loss[0] == pytest.approx(full[1], rel=1e-5)
    assert len(h.iter_loss) == math.ceil(n / batch)


@settings(SLOW, max_examples=3)
@given(n=st.integers(1, 30), batch=st.integers(1, 13))
def test_tensorflow_epoch_means_equal_the_full_data_loss_at_lr_0(n, batch):
    import keras
    import tensorflow as tf
    import losslab.tensorflow as ll

    X, y = ll.generate_synthetic_data(2 * n, 3, seed=n)
    ll.set_seed(batch)
    model = ll.SimpleNet(3, 4, 1)
    loaders = [tf.data.Dataset.from_tensor_slices((X[i::2], y[i::2])).batch(batch) for i in (0, 1)]
    h = ll.train_with_loss_tracking(model, *loaders, "mse", keras.optimizers.SGD(0.0), 1, track_grad_norm=False)
    full = [float(np.mean((np.asarray(model(X[i::2])) - y[i::2]) ** 2)) for i in (0, 1)]
    assert h.train_loss[0] == pytest.approx(full[0], rel=1e-5) and h.val_loss[0] == pytest.approx(full[1], rel=1e-5)


# -- plots -------------------------------------------------------------------------------------------
@settings(FAST, max_examples=10)
@given(h=records(values=loss_value), smoothing=st.sampled_from([0.0, 0.6]),
       log_scale=st.sampled_from(["auto", True, False]))
def test_plots_never_raise_on_a_legal_record(h, smoothing, log_scale):
    for fig in (plot_loss_curves(h, smoothing=smoothing, log_scale=log_scale, show=False),
                plot_histories({"a": h, "b": h}, key="train_loss", smoothing=smoothing, log_scale=log_scale,
                               show=False),
                plot_training_dashboard(h, show=False)):
        fig.savefig(io.BytesIO(), format="png", dpi=20)  # rendering is where a bad axis range fails


# -- smoothing and decimation ---------------------------------------------------------------------------
@FAST
@given(st.lists(any_float, min_size=1, max_size=300), st.integers(4, 40))
def test_decimate_minmax_keeps_first_last_min_and_max(values, max_points):
    y = np.array(values)
    x = np.arange(y.size, dtype=float)
    xs, ys = decimate_minmax(x, y, max_points)
    assert xs.size <= max(max_points, y.size if y.size <= max_points else 0) and np.all(np.diff(xs) > 0)
    assert xs[0] == 0 and xs[-1] == y.size - 1
    numbers = y[~np.isnan(y)]
    if numbers.size:
        assert numbers.min() in ys and numbers.max() in ys
    np.testing.assert_array_equal(ys, y[xs.astype(int)])


@FAST
@given(st.lists(st.one_of(finite, st.just(math.nan), st.just(math.inf)), min_size=0, max_size=200),
       st.floats(0.0, 0.99))
def test_ema_smooth_equals_its_definition(values, weight):
    out = ema_smooth(values, weight)
    avg, k, expected = 0.0, 0, []
    for v in values:  # TensorBoard's debiased EMA, skipping non-finite points (passed through unchanged)
        if not math.isfinite(v):
            expected.append(v)
            continue
        k += 1
        avg = weight * avg + (1 - weight) * v
        expected.append(avg / (1 - weight**k) if weight else v)
    scale = max([1.0] + [abs(v) for v in values if math.isfinite(v)])
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9 * scale)


# -- the range test's suggestion ------------------------------------------------------------------------
@FAST
@given(st.lists(st.one_of(st.floats(-1e3, 1e3), st.just(math.nan), st.just(math.inf)), min_size=0, max_size=80),
       st.floats(1e-7, 1e-2))
def test_suggest_lr_returns_a_tested_rate_or_none(losses, start):
    lrs = np.geomspace(start, 10.0, len(losses)).tolist() if losses else []
    rate = suggest_lr(lrs, losses)
    assert rate is None or rate in lrs
