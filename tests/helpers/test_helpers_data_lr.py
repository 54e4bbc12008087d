"""Framework-free data and the range-test core."""
import math

import numpy as np
import pytest

from losslab import suggest_lr
from losslab.core.data import check_xy, make_regression, split_indices
from losslab.core.lr_range import run_range_test


def test_regression_data_is_seeded_and_shaped():
    X1, y1 = make_regression(50, 3, 0.1, seed=1)
    X2, y2 = make_regression(50, 3, 0.1, seed=1)
    assert X1.shape == (50, 3) and y1.shape == (50, 1) and X1.dtype == np.float32
    np.testing.assert_array_equal(X1, X2)
    np.random.seed(7)
    a = make_regression(20, 2)[0]
    np.random.seed(7)
    np.testing.assert_array_equal(a, make_regression(20, 2)[0])


@pytest.mark.parametrize("ratio", [0, 1, 1.5, -0.2])
def test_train_ratio_outside_open_interval(ratio):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        split_indices(10, ratio)


def test_split_that_leaves_a_set_empty():
    with pytest.raises(ValueError, match="both sets need at least one"):
        split_indices(3, 0.9)


def test_lengths_must_match():
    with pytest.raises(ValueError, match="different lengths"):
        check_xy(np.zeros((5, 2)), np.zeros(4))


def test_range_test_finds_the_steepest_descent_of_a_real_quadratic():
    # SGD on two alternating "batches" f_t(w) = (w - t)^2 / 2, t = 5 then -5: the loss falls until lr ~ 1,
    # stays noisy below lr = 2 and blows up above it, as a real range test does
    state = {"w": 20.0, "i": 0}

    def step(lr):
        t = 5.0 if state["i"] % 2 else -5.0
        state["i"] += 1
        loss = 0.5 * (state["w"] - t) ** 2
        state["w"] -= lr * (state["w"] - t)
        return loss

    result = run_range_test(step, 1e-4, 10, 80)
    assert result.lrs[-1] < 10, "the sweep stops once the loss blows up"
    assert result.suggested_lr is not None and 1e-2 < result.suggested_lr < 2
    assert suggest_lr([1e-3, 1e-2], [1.0, 0.5]) is None  # too few points to say
    assert all(math.isfinite(v) for v in result.smoothed[:-1])
