"""Regression tests for issue 18 (losslab under adversarial input), one per item, both flavors where it applies.

Items 5, 7 and 9 (the diagnosis) are tested in tests/diagnosis.
"""
import io
import json
import math

import numpy as np
import pytest

from losslab import LivePlot, TrainingHistory, decimate_minmax, plot_histories, plot_loss_curves, suggest_lr
from losslab.core.lr_range import run_range_test
from losslab.core.plotting import plot_lr_comparison
from losslab.core.signals import STOP_NONFINITE_VAL, find_divergence


def _loaders(fw, n=10, batch=4, drop_last=False, seed=0):
    """n samples of the regression task as (train, val) loaders of `batch`; the last batch is short (10 = 4+4+2)."""
    X, y = fw.ll.generate_synthetic_data(n_samples=2 * n, n_features=3, seed=seed)
    if fw.name == "torch":
        from torch.utils.data import DataLoader, TensorDataset

        return [DataLoader(TensorDataset(X[i::2], y[i::2]), batch_size=batch, drop_last=drop_last) for i in (0, 1)]
    import tensorflow as tf

    return [tf.data.Dataset.from_tensor_slices((X[i::2], y[i::2])).batch(batch, drop_remainder=drop_last)
            for i in (0, 1)]


def _run(fw, train, val, criterion=None, epochs=2, lr=0.05, **kw):
    fw.seed(0)
    model = fw.ll.SimpleNet(3, 4, 1)
    return fw.ll.train_with_loss_tracking(model, train, val, criterion if criterion is not None else fw.mse(),
                                          fw.sgd(model, lr), epochs, **kw)


# 1. a loss given by name (Keras' per-sample functions) trains, with an uneven last batch, and the range test
#    runs with its default criterion; both flavors take the shared names with the same meaning.
def test_1_loss_by_name_equals_the_loss_object(fw):
    train, val = _loaders(fw)
    by_object = _run(fw, train, val)
    by_name = _run(fw, train, val, criterion="mse")
    np.testing.assert_allclose(by_name.train_loss, by_object.train_loss, rtol=1e-6)
    np.testing.assert_allclose(by_name.val_loss, by_object.val_loss, rtol=1e-6)
    if fw.name == "tensorflow":  # any Keras name still works: its per-sample result is averaged
        np.testing.assert_allclose(_run(fw, train, val, criterion="mean_squared_error").train_loss,
                                   by_object.train_loss, rtol=1e-6)
    result = fw.ll.lr_range_test(lambda: fw.ll.SimpleNet(3, 4, 1), train, num_iters=8)
    assert len(result.lrs) >= 1 and all(isinstance(v, float) for v in result.losses)


# 2. an empty training or validation loader is an error in both flavors, never a loss of 0.0.
def test_2_empty_loaders_are_errors(fw):
    empty_train, empty_val = _loaders(fw, n=3, batch=4, drop_last=True)
    train, val = _loaders(fw)
    with pytest.raises(ValueError, match="training loader yielded no batches"):
        _run(fw, empty_train, val)
    with pytest.raises(ValueError, match="validation loader yielded no batches"):
        _run(fw, train, empty_val)


# 3. a schedule(epoch, lr) sets the rate before the epoch, and the record holds the rate the epoch used.
def test_3_scheduled_rate_is_recorded_in_its_own_epoch(fw):
    train, val = _loaders(fw)
    seen = []

    def schedule(epoch, lr):
        seen.append(lr)
        return [0.1, 0.05, 0.025][epoch]

    h = _run(fw, train, val, epochs=3, lr=1.0, scheduler=schedule)
    assert h.lr == pytest.approx([0.1, 0.05, 0.025])
    assert seen == pytest.approx([1.0, 0.1, 0.05])  # each epoch reads back what the previous one set


# 4. an error in the first epoch with live_plot=True is that error, not an IndexError from the clean-up.
def test_4_live_plot_lets_a_first_epoch_error_through(fw, capsys):
    train, val = _loaders(fw)

    def broken(*_):
        raise RuntimeError("broken criterion")

    with pytest.raises(RuntimeError, match="broken criterion"):
        _run(fw, train, val, criterion=broken, live_plot=True)


# 6. a negative loss (a log-likelihood) does not stop the range test after one step.
def test_6_range_test_runs_on_a_negative_loss():
    def step(lr):  # a real quadratic in log10(lr), shifted below zero: lowest at lr = 1e-2
        return -10.0 + (math.log10(lr) + 2.0) ** 2

    result = run_range_test(step, 1e-5, 10.0, 60)
    assert len(result.lrs) > 30
    assert result.suggested_lr is not None and 1e-5 < result.suggested_lr < 1e-2
    positive = run_range_test(lambda lr: 1.0 + 3 * (math.log10(lr) + 2.0) ** 2, 1e-5, 10.0, 60)
    assert len(positive.lrs) < 60  # a positive loss still stops at 4x its best


# 8. the smaller items.
def test_8_plateau_scheduler_without_validation_is_a_clear_error(fw):
    train, _ = _loaders(fw)
    model = fw.ll.SimpleNet(3, 4, 1)
    opt = fw.sgd(model, 0.1)
    if fw.name == "torch":
        import torch

        plateau, error, match = torch.optim.lr_scheduler.ReduceLROnPlateau(opt), ValueError, "validation"
    else:
        import keras

        plateau, error, match = keras.callbacks.ReduceLROnPlateau(), TypeError, "model.fit"
    with pytest.raises(error, match=match):
        fw.ll.train_with_loss_tracking(model, train, None, fw.mse(), opt, 2, scheduler=plateau)


def test_8_huge_validation_loss_is_an_overflow_not_overfitting():
    d = find_divergence([1.0, 0.5, 0.4], [1e308, 1e308, 1e308])
    assert d is not None and d.kind == "overflow" and d.epoch == 1


def test_8_lr_comparison_keeps_runs_whose_labels_format_alike():
    runs = {0.1: {"train_loss": [1.0, 0.5]}, 0.10000001: {"train_loss": [1.0, 0.6]}}
    fig = plot_lr_comparison(runs, show=False)
    legend = fig.axes[-1].get_legend_handles_labels()[1]
    assert len(legend) == 2 and len(set(legend)) == 2
    with pytest.raises(ValueError, match="same learning rate"):
        plot_lr_comparison({0.1: runs[0.1], "0.1": runs[0.1]}, show=False)


def test_8_all_nan_record_on_a_log_scale_renders():
    fig = plot_loss_curves({"train_loss": [math.nan, math.nan]}, log_scale=True, show=False)
    fig.savefig(io.BytesIO(), format="png")
    assert fig.axes[0].get_yscale() == "linear"


def test_8_constructor_converts_numbers_like_from_dict(tmp_path):
    h = TrainingHistory(train_loss=[3, 2, np.float32(1.5)], val_loss=np.array([4, 3, 2], dtype=np.int64))
    assert all(type(v) is float for v in h.train_loss + h.val_loss)
    assert h.best_epoch == 2
    json.loads(h.save(tmp_path / "h.json").read_text())


def test_8_torch_records_float64_losses_in_float64():
    import torch
    import losslab.torch as ll

    model = torch.nn.Linear(1, 1).double()
    torch.nn.init.zeros_(model.weight), torch.nn.init.zeros_(model.bias)
    x, y = torch.ones(4, 1, dtype=torch.float64), torch.full((4, 1), 3e19, dtype=torch.float64)
    h = ll.train_with_loss_tracking(model, [(x, y)], [(x, y)], torch.nn.MSELoss(),
                                    torch.optim.SGD(model.parameters(), lr=0.0), 1)
    assert h.train_loss[0] == pytest.approx(9e38) and not h.stopped_early  # beyond float32's range, finite


def test_8_generator_loader_is_refused_clearly(fw):
    train, val = _loaders(fw)
    with pytest.raises(TypeError, match="one-shot iterator"):
        _run(fw, (b for b in train), val)


def test_8_text_is_not_a_loss():
    with pytest.raises(TypeError, match="not a number"):
        TrainingHistory(train_loss=["1.0", "0.5"])
    with pytest.raises(TypeError, match="not a number"):
        TrainingHistory(iter_loss=[1.0, "0.5"])


def test_8_suggest_lr_with_mismatched_lengths_says_so():
    with pytest.raises(ValueError, match="pair up"):
        suggest_lr([1e-3, 1e-2, 1e-1], [1.0, 0.5])


def test_8_negative_smoothing_is_refused_everywhere():
    h = {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.6]}
    for call in (lambda: plot_loss_curves(h, smoothing=-0.5, show=False),
                 lambda: plot_histories({"a": h}, smoothing=-0.5, show=False),
                 lambda: LivePlot(smoothing=-0.5)):
        with pytest.raises(ValueError, match="smoothing"):
            call()


def test_8_decimate_minmax_wants_a_whole_number_of_points():
    x = np.arange(1000.0)
    with pytest.raises(TypeError, match="whole number"):
        decimate_minmax(x, np.sin(x), max_points=100.5)
    assert decimate_minmax(x, np.sin(x), max_points=100.0)[0].size <= 100


def test_8_validation_overflow_stops_the_run_with_a_structured_reason():
    from losslab.core.loop import EpochResult, run_epochs

    h = run_epochs(lambda epoch: EpochResult(np.array([1.0, 0.5]), np.array([4, 4])), lambda: 1e250, 5,
                   get_lr=lambda: 0.1)
    assert h.epochs == 1 and h.val_loss == [1e250]
    assert (h.stop_reason.kind, h.stop_reason.epoch, h.stop_reason.value) == (STOP_NONFINITE_VAL, 1, 1e250)
