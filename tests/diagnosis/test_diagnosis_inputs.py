"""identify_training_issues takes any record shape and never raises on odd curves; only bad input raises."""
import json
import math

import pytest

from losslab.core.diagnosis import LABELS, Diagnosis, Thresholds, identify_training_issues
from losslab.core.history import TrainingHistory

NAN, INF = math.nan, math.inf
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no numpy warnings reach a student

ODD_CURVES = {
    "one epoch": {"train_loss": [0.7]},
    "one epoch with val": {"train_loss": [0.7], "val_loss": [0.8]},
    "one NaN epoch": {"train_loss": [NAN], "val_loss": [NAN]},
    "Inf first": {"train_loss": [INF, 1.0, 0.5]},
    "NaN in the middle": {"train_loss": [1.0, NAN, 0.5, 0.4], "val_loss": [1.0, 0.9, NAN, 0.4]},
    "val NaN only": {"train_loss": [1.0, 0.5, 0.3, 0.2, 0.1], "val_loss": [1.0, 0.6, NAN, NAN, NAN]},
    "constant": {"train_loss": [1.0] * 20, "val_loss": [1.0] * 20},
    "constant zero": {"train_loss": [0.0] * 10, "val_loss": [0.0] * 10},
    "negative losses": {"train_loss": [-1.0, -2.0, -3.0, -3.5, -3.6], "val_loss": [-1.0, -1.5, -1.0, -0.5, 0.0]},
    "val shorter than train": {"train_loss": [1.0, 0.5, 0.3, 0.2, 0.1], "val_loss": [1.0, 0.6]},
    "NaN gradient": {"train_loss": [1.0, 0.5, 0.4, 0.3], "grad_norm": [1.0, NAN, 1.0, 1.0]},
    "zero gradient": {"train_loss": [1.0, 1.0, 1.0, 1.0, 1.0], "grad_norm": [0.0] * 5},
    "NaN iteration": {"train_loss": [1.0, 0.5], "iter_loss": [1.0, 0.8, NAN]},
    "NaN and Inf learning rate": {"train_loss": [1.0, 0.5, 0.4, 0.3], "lr": [NAN, INF, 0.1, 0.1]},
    "huge": {"train_loss": [1e300, 1e308, 1e300, 1e308]},
}


@pytest.mark.parametrize("name", ODD_CURVES)
def test_never_raises_and_always_explains(name):
    d = identify_training_issues(ODD_CURVES[name])
    assert isinstance(d, Diagnosis) and d.findings and d.epochs == len(ODD_CURVES[name]["train_loss"])
    assert d.primary in LABELS and d.labels[0] == d.primary
    for f in d.findings:
        assert f.evidence and f.explanation and f.fixes and f.summary
    json.dumps(d.to_dict(), allow_nan=False)  # evidence holds finite numbers only
    assert str(d).strip()


@pytest.mark.parametrize("name", ["one NaN epoch", "Inf first", "NaN in the middle", "val NaN only", "NaN iteration"])
def test_non_finite_losses_are_diverging_never_healthy(name):
    d = identify_training_issues(ODD_CURVES[name])
    assert d.primary == "diverging" and not d.healthy


@pytest.mark.parametrize("name", ["constant", "constant zero", "negative losses", "zero gradient"])
def test_finite_flat_or_odd_curves_are_not_called_diverging(name):
    assert "diverging" not in identify_training_issues(ODD_CURVES[name])


def test_one_finite_epoch_is_not_judged_on_trends():
    d = identify_training_issues({"train_loss": [0.7], "val_loss": [0.8]})
    assert d.labels == ["healthy"] and "too few epochs" in d.findings[0].summary


def test_stop_reason_alone_marks_divergence():
    h = TrainingHistory(train_loss=[1.0, 0.8], val_loss=[1.0, 0.9], stop_reason="non-finite training loss (nan)")
    assert identify_training_issues(h).primary == "diverging"


def test_keras_history_object_is_accepted():
    class KerasHistory:  # what model.fit returns: .history maps Keras' names to lists
        history = {"loss": [1.0, 0.5, 0.3, 0.25, 0.2], "val_loss": [1.0, 0.6, 0.4, 0.35, 0.3]}

    assert identify_training_issues(KerasHistory()).epochs == 5


def test_bad_input_raises_clearly():
    with pytest.raises(ValueError, match="empty"):
        identify_training_issues({"train_loss": []})
    with pytest.raises(ValueError, match="empty"):  # issue 18 item 5: was an IndexError
        identify_training_issues(TrainingHistory())
    with pytest.raises(ValueError, match="framework"):
        identify_training_issues({"train_loss": [1.0]}, framework="jax")
    with pytest.raises(TypeError, match="not a number"):
        identify_training_issues({"train_loss": [1.0, "x"]})
    with pytest.raises(TypeError):
        identify_training_issues([1.0, 0.5])
    with pytest.raises(TypeError, match="unknown threshold"):
        identify_training_issues({"train_loss": [1.0]}, overfit_riseee=0.2)


@pytest.mark.parametrize("epochs", [1, 2, 3, 4, 7])
def test_short_runs_with_min_epochs_one_never_raise(epochs):
    """Issue 18 item 5: ``min_epochs=1`` on a one-epoch record raised ZeroDivisionError."""
    curve = {"train_loss": [1.0 / (i + 1) for i in range(epochs)], "val_loss": [1.1 / (i + 1) for i in range(epochs)]}
    d = identify_training_issues(curve, min_epochs=1)
    assert d.epochs == epochs and d.findings


def test_negative_losses_are_diagnosed():
    """Issue 18 item 9: a loss with no natural zero (a log-likelihood) is read relative to its range."""
    rising = identify_training_issues({"train_loss": [-6.0, -5.0, -4.0, -3.0, -2.0, -1.0]})
    assert rising.primary == "diverging"
    finding = rising["diverging"]
    assert finding.evidence["min_train_loss"] == -6.0 and finding.evidence["last_train_loss"] == -1.0  # as recorded
    assert "loss_shift" in finding.evidence and "-6" in finding.summary and "overflow" not in finding.explanation
    turning = identify_training_issues(ODD_CURVES["negative losses"])
    assert turning.primary == "overfitting" and turning["overfitting"].evidence["best_val_loss"] == -1.5
    falling = identify_training_issues({"train_loss": [-1.0, -4.0, -5.5, -5.9, -6.0, -6.0, -6.0],
                                        "val_loss": [-1.0, -3.9, -5.4, -5.8, -5.9, -5.9, -5.9]})
    assert falling.labels == ["healthy"]


def test_overrides_change_the_verdict():
    curve = {"train_loss": [1.0, 0.5, 0.3, 0.2, 0.15, 0.1, 0.08, 0.06],
             "val_loss": [1.0, 0.55, 0.4, 0.42, 0.45, 0.5, 0.55, 0.6]}
    assert "overfitting" in identify_training_issues(curve)
    assert "overfitting" not in identify_training_issues(curve, overfit_rise=2.0)


def test_thresholds_are_documented():
    doc = Thresholds.__doc__
    for name in Thresholds.__dataclass_fields__:
        assert f"``{name}``" in doc, f"Thresholds.{name} is not documented"
    for source in ("AUTOTRAINER", "DeepDiagnosis", "UMLAUT"):
        assert source in doc
