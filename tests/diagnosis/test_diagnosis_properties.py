"""Property-based tests (Hypothesis) of the diagnosis over any legal record (issue 18, "What to build" 3).

A legal record: per-epoch training losses (1-40 epochs) that may hold any float, negative, zero, huge, NaN
or Inf; optionally a validation loss (any length up to the training one), gradient norms, learning rates,
per-iteration losses and a stop reason. The diagnosis must never raise on one, must explain every finding
with finite numbers, and must count epochs from 1 in every string it prints. Example counts are bounded and
the search is derandomised, so the suite stays fast and repeatable on two cores.
"""
import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losslab.core.diagnosis import LABELS, identify_training_issues
from losslab.core.history import TrainingHistory

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no numpy warnings reach a student
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

LOSS = st.one_of(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.floats(min_value=1e-12, max_value=10),
                 st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e308, -1e308, 1e-300]))
POSITIVE = st.one_of(st.floats(min_value=0, max_value=1e6), st.sampled_from([math.nan, math.inf]))
EPOCH_WORDS = re.compile(r"\bepochs? (\d+)(?:-(\d+))?")
ITERATION_WORDS = re.compile(r"\biteration (\d+)")


@st.composite
def records(draw):
    n = draw(st.integers(1, 40))
    smooth = draw(st.booleans())  # half the records are curves, half any floats
    if smooth:
        start, rate = draw(st.floats(0.01, 100)), draw(st.floats(-0.3, 0.5))
        noise = draw(st.lists(st.floats(-0.2, 0.2), min_size=n, max_size=n))
        train = [start * math.exp(-rate * i) * (1 + e) for i, e in enumerate(noise)]
    else:
        train = draw(st.lists(LOSS, min_size=n, max_size=n))
    data = {"train_loss": train}
    if draw(st.booleans()):
        data["val_loss"] = draw(st.lists(LOSS, min_size=0, max_size=n)) if not smooth else \
            [v * draw(st.floats(0.5, 2.0)) for v in train]
    if draw(st.booleans()):
        data["grad_norm"] = draw(st.lists(POSITIVE, min_size=n, max_size=n))
    if draw(st.booleans()):
        data["lr"] = draw(st.lists(POSITIVE, min_size=n, max_size=n))
    if draw(st.booleans()):
        per = draw(st.integers(1, 5))
        data["iter_loss"] = draw(st.lists(LOSS, min_size=n * per, max_size=n * per))
    if draw(st.booleans()):
        data["layer_grad_norm"] = {name: draw(st.lists(POSITIVE, min_size=n, max_size=n))
                                   for name in ("0.weight", "2.weight")}
    data["stop_reason"] = draw(st.sampled_from([None, "EarlyStopping", "non-finite training loss (nan)"]))
    data["framework"] = draw(st.sampled_from([None, "torch", "tensorflow"]))
    return data


def _printed(d) -> list[str]:
    return [str(d), repr(d)] + [s for f in d.findings for s in (str(f), f.summary, f.explanation, *f.fixes)]


@SETTINGS
@given(records())
def test_never_raises_and_explains_every_finding_with_finite_numbers(data):
    d = identify_training_issues(TrainingHistory.from_dict(data))
    assert d.findings and d.primary in LABELS and d.epochs == len(data["train_loss"])
    for f in d.findings:
        assert f.evidence and f.explanation and f.fixes and f.summary
        assert 0.0 <= f.confidence <= 1.0
    json.dumps(d.to_dict(), allow_nan=False)
    dict_form = identify_training_issues({k: v for k, v in data.items() if k not in ("stop_reason", "framework")})
    assert dict_form.findings


@SETTINGS
@given(records())
def test_counts_epochs_from_1_in_every_string_it_prints(data):
    n, iters = len(data["train_loss"]), len(data.get("iter_loss", []))
    d = identify_training_issues(TrainingHistory.from_dict(data))
    for f in d.findings:
        assert f.epoch is None or 0 <= f.epoch < n  # the one documented 0-based index
        for key, value in f.evidence.items():
            if key.endswith("_epoch"):
                assert value == int(value) and 1 <= value <= n, (key, value, n)
            if key.endswith("_iteration"):
                assert value == int(value) and 1 <= value <= iters, (key, value, iters)
    for text in _printed(d):
        for first, last in EPOCH_WORDS.findall(text):
            assert 1 <= int(first) <= n and (not last or int(first) <= int(last) <= n), (text, n)
        for step in ITERATION_WORDS.findall(text):
            assert 1 <= int(step) <= iters, (text, iters)
    heads = str(d).splitlines()[0]
    for f in d.findings:
        if f.epoch is not None:
            assert f"{f.label.replace('_', ' ')} (from epoch {f.epoch + 1})" in heads


@SETTINGS
@given(st.integers(1, 30), st.data())
def test_a_nan_in_epoch_k_is_reported_as_epoch_k(n, data):
    k = data.draw(st.integers(1, n))  # 1-based epoch of the first NaN
    train = [1.0 / (i + 1) for i in range(n)]
    train[k - 1] = math.nan
    d = identify_training_issues({"train_loss": train})
    f = d["diverging"]
    assert d.primary == "diverging" and f.evidence["first_nonfinite_epoch"] == k and f.epoch == k - 1
    assert f"epoch {k}" in f.summary and f"(from epoch {k})" in str(d)
