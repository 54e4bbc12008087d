"""lr_explorer driven as a click would drive it, with a real (numpy) training function."""
import base64
import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from losslab.core.widgets import lr_explorer  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def calls(train_run):
    made = []

    def train_fn(lr, optimizer, momentum):
        made.append((lr, optimizer, momentum))
        return train_run(lr=lr, epochs=15, optimizer=optimizer, momentum=momentum)

    return made, train_fn


def shown_png(box):
    (out,) = box.output.outputs
    return base64.b64decode(out["data"]["image/png"])


def test_first_plot_and_controls(calls):
    made, train_fn = calls
    box = lr_explorer(train_fn, lrs=(1e-3, 1e-2, 1e-1))
    assert made == [(1e-2, "sgd", 0.9)]
    assert shown_png(box).startswith(b"\x89PNG")
    assert box.lr_slider.min == pytest.approx(-3) and box.lr_slider.max == pytest.approx(-1)
    assert list(box.optimizer_dropdown.options) == ["sgd", "momentum", "adam"]
    assert box.history.epochs == 15 and box.figure.axes[0].get_title() == "sgd, lr = 0.01"
    assert "<pre>" in box.diagnosis.value and "epochs" in box.diagnosis.value


def test_moving_a_control_retrains_and_redraws(calls):
    made, train_fn = calls
    box = lr_explorer(train_fn)
    first = shown_png(box)
    box.lr_slider.value = 0.05
    box.optimizer_dropdown.value = "momentum"
    assert made[-2:] == [(0.05, "sgd", 0.9), (0.05, "momentum", 0.9)]
    assert shown_png(box) != first
    assert box.figure.axes[0].get_title() == "momentum, lr = 0.05, momentum = 0.90"
    box.train_button.click()
    assert len(made) == 4


def test_run_returns_the_history_and_a_diverging_lr_says_so(calls):
    made, train_fn = calls
    box = lr_explorer(train_fn, auto=False, run_now=False)
    assert made == [] and box.history is None
    box.lr_slider.value = 1.0
    assert made == []  # auto=False: only the button or run() trains
    history = box.run()
    assert not math.isfinite(history.train_loss[-1]) or history.train_loss[-1] > 1e6
    assert "diverging" in box.diagnosis.value


def test_a_failing_train_fn_is_shown_not_raised():
    def broken(lr, optimizer, momentum):
        raise RuntimeError("CUDA out of memory")

    box = lr_explorer(broken)
    assert "train_fn failed" in box.diagnosis.value and "CUDA out of memory" in box.diagnosis.value
    assert box.output.outputs == () and not box.train_button.disabled
