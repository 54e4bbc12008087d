"""The figures: what is marked where, NaN/Inf runs, dict input, one epoch, the log-scale rule."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from losslab.core.diagnosis import identify_training_issues  # noqa: E402
from losslab.core.history import TrainingHistory  # noqa: E402
from losslab.core.plotting import (MAX_ITER_POINTS, plot_histories, plot_loss_curves,  # noqa: E402
                                   plot_lr_comparison, plot_training_dashboard, show_figure,
                                   use_log_scale)

pytestmark = pytest.mark.filterwarnings("error")  # a warning on stderr costs a student points


def legend_texts(ax):
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def render(fig):
    fig.canvas.draw()  # drawing is where matplotlib warns about bad limits, ticks or glyphs
    return fig


def vlines_at(ax):
    return {float(line.get_xdata()[0]) for line in ax.get_lines()
            if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]}


@pytest.fixture
def overfit(train_run):
    return train_run(lr=0.01, epochs=150)


@pytest.fixture
def diverged(train_run):
    return train_run(lr=1.0, epochs=120)  # overflows to Inf, then NaN: the run stops itself


def test_train_vs_val_with_best_epoch_and_overfitting_onset(overfit):
    fig = render(plot_loss_curves(overfit, title="overfitting", show=False))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = legend_texts(ax)
    best = int(np.argmin(overfit["val_loss"]))
    onset = identify_training_issues(overfit)["overfitting"].epoch
    assert "train" in labels and "validation" in labels
    assert f"best epoch {best + 1} (val {overfit['val_loss'][best]:.3g})" in labels
    assert f"overfitting from epoch {onset + 1}" in labels
    assert best + 1 in vlines_at(ax)
    span = [p for p in ax.patches if p.get_label().startswith("overfitting")][0]
    assert span.get_x() == onset + 1 and span.get_x() + span.get_width() == len(overfit["train_loss"])
    assert ax.get_title() == "overfitting" and ax.get_yscale() == "linear"


def test_per_iteration_curve_sits_on_the_epoch_axis_decimated(gd_losses):
    n_epochs, per_epoch = 50, 20_000  # a 10^6-iteration record, with one spike in it
    iters = gd_losses(n_epochs * per_epoch, lr=1e-3)
    spike_at = 654_321
    iters[spike_at] = 5 * iters.max()
    epoch_means = iters.reshape(n_epochs, per_epoch).mean(axis=1)
    h = {"train_loss": epoch_means.tolist(), "iter_loss": iters.tolist()}
    ax = plot_loss_curves(h, show=False).axes[0]
    (band,) = [c for c in ax.collections if c.get_label() == "train (per iteration)"]
    x, y = band.get_paths()[0].vertices.T
    assert len(x) <= 2 * MAX_ITER_POINTS + 10
    assert x.min() < 0.1 and x.max() == pytest.approx(n_epochs, abs=0.05)  # iterations on the epoch axis
    assert band.get_alpha() < 0.5  # faint behind the per-epoch curve
    assert y.max() == iters[spike_at]  # the spike is drawn ...
    bin_width = iters.size / (MAX_ITER_POINTS // 2) / per_epoch
    assert abs(x[y.argmax()] - (spike_at + 1) / per_epoch) <= bin_width  # ... where it happened
    assert not [c for c in plot_loss_curves(h, show_iterations=False, show=False).axes[0].collections
                if c.get_label().startswith("train (per")]


@pytest.mark.parametrize("history_key", ["train_loss", "iter_loss"])
def test_diverged_run_is_drawn_to_its_last_finite_point(diverged, history_key):
    values = diverged[history_key]
    assert not np.isfinite(values[-1]) and diverged["stop_reason"]
    fig = render(plot_loss_curves(diverged, show=False))
    ax = fig.axes[0]
    first_bad_epoch = next(i for i, v in enumerate(diverged["train_loss"]) if not np.isfinite(v)) + 1
    diverged_labels = [t for t in legend_texts(ax) if t.startswith("diverged (")]
    assert len(diverged_labels) == 1
    if history_key == "train_loss":  # the per-iteration record blows up inside that epoch or before
        assert int(diverged_labels[0].rsplit(" ", 1)[1]) <= first_bad_epoch
    for line in ax.get_lines():
        assert np.isfinite(np.asarray(line.get_ydata(), dtype=float)[~np.isnan(line.get_ydata())]).all()
    assert np.isfinite(ax.get_ylim()).all()


def test_inf_and_nan_dict_histories_plot_without_warnings(overfit):
    h = {"train_loss": overfit["train_loss"][:30] + [float("inf")],
         "val_loss": overfit["val_loss"][:30] + [float("nan")]}
    ax = render(plot_loss_curves(h, show=False)).axes[0]
    assert "diverged (Inf) at epoch 31" in legend_texts(ax)
    all_nan = {"train_loss": [float("nan")], "val_loss": [float("nan")]}
    ax = render(plot_loss_curves(all_nan, show=False)).axes[0]
    assert "diverged (NaN) at epoch 1" in legend_texts(ax)


def test_dict_and_keras_style_histories(overfit):
    plain = {"train_loss": overfit["train_loss"], "val_loss": overfit["val_loss"]}
    keras = {"loss": overfit["train_loss"], "val_loss": overfit["val_loss"]}
    for h in (plain, keras, TrainingHistory.from_dict(plain)):
        ax = plot_loss_curves(h, show=False).axes[0]
        assert {"train", "validation"} <= set(legend_texts(ax))


def test_one_epoch_run(train_run):
    h = train_run(lr=0.01, epochs=1)
    for fig in (plot_loss_curves(h, show=False), plot_training_dashboard(h, show=False),
                plot_histories({"one": h}, show=False), plot_lr_comparison({0.01: h}, show=False)):
        render(fig)
    assert "best epoch 1" in legend_texts(plot_loss_curves(h, show=False).axes[0])[-1]


def test_log_scale_rule(gd_losses, overfit):
    assert use_log_scale([np.array([1.0, 0.005])])  # 2.3 decades
    assert not use_log_scale([np.array([1.0, 0.02])])  # 1.7 decades
    assert not use_log_scale([np.array([1.0, 0.0, 1e-5])])  # a zero cannot go on a log axis
    assert not use_log_scale([np.array([np.nan, np.inf])])
    fast = {"train_loss": gd_losses(30, lr=1.5).tolist()}  # falls by many decades
    assert plot_loss_curves(fast, show=False).axes[0].get_yscale() == "log"
    assert plot_loss_curves(fast, log_scale=False, show=False).axes[0].get_yscale() == "linear"
    assert plot_loss_curves(overfit, log_scale=True, show=False).axes[0].get_yscale() == "log"
    assert plot_loss_curves(overfit, show=False).axes[0].get_yscale() == "linear"


def test_smoothing_draws_ema_over_faint_raw(overfit):
    ax = plot_loss_curves(overfit, smoothing=0.8, show=False).axes[0]
    smooth = [ln for ln in ax.get_lines() if ln.get_label() == "validation (EMA 0.8)"][0]
    raw = [ln for ln in ax.get_lines() if ln.get_color() == smooth.get_color() and ln.get_alpha() == 0.3]
    np.testing.assert_allclose(raw[0].get_ydata(), overfit["val_loss"])
    assert np.std(np.diff(smooth.get_ydata())) < np.std(np.diff(raw[0].get_ydata()))


def test_lr_comparison_marks_the_diverged_run(train_run):
    runs = {lr: train_run(lr=lr, epochs=60) for lr in (0.001, 0.01, 1.0)}
    fig = render(plot_lr_comparison(runs, title="LRs", show=False))
    axes = fig.axes
    assert len(axes) == 4 and fig.get_suptitle() == "LRs"
    assert axes[2].get_title() == "lr = 1: diverged" and axes[0].get_title() == "lr = 0.001"
    overview = axes[3]
    assert any("lr = 1 (diverged" in t for t in legend_texts(overview))
    calm_max = max(max(runs[lr]["val_loss"]) for lr in (0.001, 0.01))
    assert overview.get_ylim()[1] < 2 * calm_max  # the blow-up does not flatten the other curves


def test_dashboard_panels(overfit):
    fig = render(plot_training_dashboard(overfit, show=False))
    loss_ax, grad_ax, lr_ax = fig.axes
    assert "total" in legend_texts(grad_ax) and "per iteration" in legend_texts(grad_ax)
    np.testing.assert_allclose(lr_ax.get_lines()[0].get_ydata(), overfit["lr"])
    assert lr_ax.get_ylim()[0] <= 0 < overfit["lr"][0] < lr_ax.get_ylim()[1]
    bare = render(plot_training_dashboard({"train_loss": overfit["train_loss"]}, show=False))
    texts = [t.get_text() for ax in bare.axes for t in ax.texts]
    assert "gradient norms not recorded" in texts and "learning rate not recorded" in texts


def test_histories_in_one_figure(train_run):
    runs = {opt: train_run(lr=0.01, epochs=40, optimizer=opt) for opt in ("sgd", "momentum", "adam")}
    runs["no validation"] = {"train_loss": runs["sgd"]["train_loss"]}
    ax = render(plot_histories(runs, key="val_loss", show=False)).axes[0]
    assert legend_texts(ax) == ["sgd", "momentum", "adam", "no validation (no val_loss)"]
    ax = plot_histories(runs, key="iter_loss", show=False).axes[0]
    assert ax.get_lines()[0].get_xdata()[-1] == pytest.approx(40)
    with pytest.raises(ValueError, match="key must be one of"):
        plot_histories(runs, key="accuracy", show=False)
    with pytest.raises(ValueError, match="at least one"):
        plot_histories({}, show=False)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="empty"):
        plot_loss_curves({"train_loss": [], "val_loss": []}, show=False)
    with pytest.raises(TypeError, match="not a number"):
        plot_loss_curves({"train_loss": ["a lot"]}, show=False)


def test_show_false_leaves_pyplot_alone_and_show_true_is_quiet_on_agg(overfit):
    before = plt.get_fignums()
    plot_loss_curves(overfit, show=False)
    assert plt.get_fignums() == before
    fig = plot_loss_curves(overfit, show=True)  # Agg, no kernel: nothing to show, and no warning
    show_figure(fig)
    plt.close(fig)
    fig, ax = plt.subplots()
    assert plot_loss_curves(overfit, ax=ax) is fig
    plt.close(fig)
