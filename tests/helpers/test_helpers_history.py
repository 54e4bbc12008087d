"""The training record: access, persistence, and the input every reader accepts."""
import math

import numpy as np
import pytest

from losslab import TrainingHistory, as_history


def _record():
    return TrainingHistory(train_loss=[1.0, 0.5, 0.4], val_loss=[1.1, 0.6, 0.7], grad_norm=[2.0, 1.0, 0.5],
                           lr=[0.1, 0.1, 0.05], epoch_time=[0.1, 0.1, 0.1], iter_loss=[1.2, 0.9, 0.6, 0.5, 0.45, 0.4],
                           iter_grad_norm=[3, 2, 1.5, 1, 0.6, 0.5], layer_grad_norm={"w": [1.0, 0.5, 0.2]})


def test_mapping_and_attribute_access_agree():
    h = _record()
    assert h["train_loss"] is h.train_loss
    assert "val_loss" in h and "nope" not in h
    assert h.epochs == 3 and h.iters_per_epoch == 2
    assert h.best_epoch == 1
    with pytest.raises(KeyError, match="not a field"):
        h["nope"]


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_save_load_round_trip(tmp_path, suffix):
    h = _record()
    h.val_loss[-1] = math.nan
    back = TrainingHistory.load(h.save(tmp_path / f"run{suffix}"))
    assert back.train_loss == h.train_loss
    assert back.val_loss[:2] == h.val_loss[:2] and math.isnan(back.val_loss[2])
    assert back.layer_grad_norm == h.layer_grad_norm
    if suffix == ".json":
        np.testing.assert_array_equal(back.iter_loss, h.iter_loss)
        assert back == h  # every field, NaN equal to NaN


def test_save_rejects_unknown_format(tmp_path):
    with pytest.raises(ValueError, match=".json or .csv"):
        _record().save(tmp_path / "run.txt")


def test_dict_and_keras_names_are_accepted():
    h = as_history({"loss": [1, 0.5], "val_loss": [1.2, 0.8], "accuracy": [0.1, 0.2]})
    assert h.train_loss == [1.0, 0.5] and h.val_loss == [1.2, 0.8]
    assert h.meta["accuracy"] == [0.1, 0.2]


@pytest.mark.parametrize("bad, message", [
    ({"train_loss": [], "val_loss": []}, "empty"),
    ({"val_loss": [1.0]}, "no 'train_loss'"),
    ({"train_loss": ["a", "b"]}, "not a number"),
    ({"train_loss": 3.0}, "list of numbers"),
    ([1.0, 2.0], "dict of lists"),
])
def test_bad_history_gets_a_clear_error(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        as_history(bad)
