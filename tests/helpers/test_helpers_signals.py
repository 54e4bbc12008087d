"""One definition of divergence, best epoch and stop reason, read the same by record, plots and status line."""
import json
import math

import pytest

from losslab import TrainingHistory
from losslab.core.live import status_line
from losslab.core.signals import (STOP_NONFINITE_TRAIN, STOP_NONFINITE_VAL, STOP_OTHER, StopReason, best_epoch,
                                  find_divergence, first_nonfinite)

NAN, INF = math.nan, math.inf


def test_best_epoch_prefers_validation_skips_nonfinite_and_ties_go_early():
    assert best_epoch([3.0, 2.0, 1.0], [2.0, 1.0, 1.0, NAN]) == (1, 1.0, "val_loss")
    assert best_epoch([3.0, 1.0, 2.0], [NAN, NAN]) == (1, 1.0, "train_loss")
    assert best_epoch([NAN, INF, 1e300]) is None
    assert TrainingHistory(train_loss=[2, 1, 3]).best_epoch == 1  # ints are converted, not skipped


@pytest.mark.parametrize("train, val, iters, kind, epoch", [
    ([1.0, NAN], [], [], "nan", 2),
    ([1.0, 0.5], [1.0, INF], [], "inf", 2),
    ([1.0, 1e250], [], [], "overflow", 2),
    ([1.0, 0.9, 0.8], [], [1.0, 0.9, 0.8, NAN, 0.6, 0.5], "nan", 2),
    ([1.0, 2e5], [], [], "above_limit", 2),
    ([1.0, 0.2, 1.2], [], [], "grew", 3),
    ([1.0, 0.5, 0.6], [1.0, 12.0, 0.7], [], "spike", 2),
    ([50.0, 1.0, 0.9, 0.8], [], [], "first_epoch_spike", 1),
])
def test_divergence_kinds_and_1_based_epochs(train, val, iters, kind, epoch):
    d = find_divergence(train, val, iters)
    assert d is not None and d.kind == kind and d.epoch == epoch
    assert d.nonfinite == (kind in ("nan", "inf", "overflow"))


def test_healthy_and_negative_losses_do_not_diverge():
    assert find_divergence([1.0, 0.5, 0.3], [1.1, 0.6, 0.4]) is None
    assert find_divergence([-1.0, -3.0, -6.0]) is None
    assert first_nonfinite([1.0, 2.0]) is None and first_nonfinite([1.0, -INF, NAN]) == 1


def test_stop_reason_is_text_with_fields_and_survives_json_and_csv(tmp_path):
    stop = StopReason("non-finite training loss (nan) in epoch 2, step 3 of the epoch", STOP_NONFINITE_TRAIN,
                      epoch=2, iteration=5, value=NAN)
    h = TrainingHistory(train_loss=[1.0, NAN], stop_reason=stop, framework="torch")
    assert "non-finite" in h.stop_reason and f"{h.stop_reason}".startswith("non-finite") and h.stop_reason.nonfinite
    for suffix in (".json", ".csv"):
        back = TrainingHistory.load(h.save(tmp_path / f"run{suffix}"))
        assert back.stop_reason == stop and back.framework == "torch"
        r = back.stop_reason
        assert (r.kind, r.epoch, r.iteration, math.isnan(r.value)) == (STOP_NONFINITE_TRAIN, 2, 5, True)


def test_old_files_with_a_text_stop_reason_and_meta_framework_still_load(tmp_path):
    old = {"train_loss": [1.0, 0.5], "val_loss": [1.0, INF], "meta": {"framework": "tensorflow"},
           "stop_reason": "non-finite validation loss (inf) in epoch 2"}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    h = TrainingHistory.load(path)
    assert h.framework == "tensorflow" and "framework" not in h.meta
    assert (h.stop_reason.kind, h.stop_reason.epoch, h.stop_reason.value) == (STOP_NONFINITE_VAL, 2, INF)
    assert TrainingHistory(stop_reason="patience ran out").stop_reason.kind == STOP_OTHER


def test_plot_and_status_line_use_the_same_divergence():
    from losslab import plot_loss_curves

    h = TrainingHistory(train_loss=[1.0, 0.2, 1.1], val_loss=[1.0, 0.3, 0.95])  # grew 5.5x: diverging
    labels = plot_loss_curves(h, show=False).axes[0].get_legend_handles_labels()[1]
    assert "diverged (loss grew 5.5x) at epoch 3" in labels
    assert "diverged (loss grew 5.5x) at epoch 3" in status_line(h)
    assert "best 0.3 @ epoch 2" in status_line(h)
