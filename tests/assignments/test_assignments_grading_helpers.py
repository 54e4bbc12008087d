"""losslab.grading, the assertions every autograded test cell uses: what passes, what fails, what the message says."""
import numpy as np
import pytest
import torch

from losslab.grading import check_close, check_label, check_true, check_type, is_finite_number, to_numpy


def test_check_close_accepts_within_tolerance_and_converts_tensors():
    t = torch.tensor([1.0, 2.0], requires_grad=True) * 1
    check_close(t, [1.0, 2.0 + 1e-7], rtol=1e-6, atol=0, what="x")
    check_close(np.float32(3.0), torch.tensor([[3.0]]), rtol=0, atol=0, what="a scalar against a 1x1 tensor")
    assert to_numpy(t).dtype == np.float64


@pytest.mark.parametrize("actual, expected, needle", [
    ([1.0, 2.1], [1.0, 2.0], "1 of 2 values differ"),
    ([1.0, 2.0, 3.0], [1.0, 2.0], "expected shape (2,), got shape (3,)"),
    ([float("nan")], [1.0], "NaN where the reference has a number"),
    ("text", [1.0], "expected numbers"),
])
def test_check_close_fails_with_a_message_that_names_the_quantity_and_the_tolerance(actual, expected, needle):
    with pytest.raises(AssertionError) as err:
        check_close(actual, expected, rtol=1e-5, atol=1e-7, what="val_loss per epoch")
    assert needle in str(err.value) and "val_loss per epoch" in str(err.value)
    if "differ" in needle:
        assert "rtol=1e-05, atol=1e-07" in str(err.value) and "got 2.1, expected 2" in str(err.value)


def test_check_close_matches_nan_with_nan():
    check_close([float("nan"), 1.0], [float("nan"), 1.0], rtol=0, atol=0, what="a diverged run")


def test_small_checks():
    check_true(True, "never shown")
    with pytest.raises(AssertionError, match="the reason"):
        check_true(False, "the reason")
    with pytest.raises(AssertionError, match="expected the label 'healthy', got 'overfit'"):
        check_label("overfit", "healthy", "diagnose")
    with pytest.raises(AssertionError, match="expected TrainingHistory or dict, got list"):
        check_type([], (type("TrainingHistory", (), {}), dict), "callback.history")
    assert is_finite_number(1.5) and is_finite_number(np.float32(2)) and is_finite_number(3)
    assert not any(is_finite_number(v) for v in (True, float("inf"), torch.tensor(1.0), "1"))
