"""Tune the diagnosis' "ours" thresholds on a set of labelled runs (never on the frozen split).

    .venv/bin/python benchmarks/diagnosis/tune.py            # tune on every development run, print the result

Coordinate descent over `GRID` (each threshold in turn over its candidate values, two passes), maximising
the accuracy of the primary finding; ties keep the current value, so the defaults win unless a change
helps. ``evaluate.py`` calls `tune` once per family with that family left out, which is how the leave-one-
family-out table measures whether the rules (and their tuning) carry over to a model and data never seen.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from losslab.core.diagnosis import Thresholds, identify_training_issues  # noqa: E402
from losslab.core.history import TrainingHistory  # noqa: E402

#: The thresholds tuned and their candidate values (the rest are published constants or not curve-tunable).
GRID: dict[str, tuple[float, ...]] = {
    "osc_climb": (0.05, 0.1, 0.2, 0.3),
    "osc_noise": (0.3, 0.5, 0.7, 1.0),
    "slow_t": (6.0, 12.0, 20.0, 30.0),
    "slow_steady": (12.0, 20.0, 30.0, 40.0),
    "slow_min_rate": (0.02, 0.04, 0.08),
    "underfit_ratio": (0.2, 0.3, 0.4),
    "floor_gap": (0.02, 0.03, 0.04, 0.05, 0.07, 0.1),
}
ALIAS = {"exploding_gradients": "diverging"}


class Predictions:
    """Primary labels per (thresholds, run), each computed once: leave-one-family-out tunes a dozen times
    over overlapping runs and settings, and most settings it tries are the same in every fold."""

    def __init__(self) -> None:
        self._memo: dict[tuple, dict[str, str]] = {}

    def __call__(self, run: dict, settings: dict[str, float]) -> str:
        memo = self._memo.setdefault(tuple(sorted(settings.items())), {})
        if run["name"] not in memo:
            label = identify_training_issues(run["record"], **settings).primary
            memo[run["name"]] = ALIAS.get(label, label)
        return memo[run["name"]]

    def accuracy(self, runs: Sequence[dict], settings: dict[str, float]) -> float:
        return sum(self(r, settings) == r["label"] for r in runs) / len(runs)


def tune(runs: Sequence[dict], passes: int = 2, predictions: Predictions | None = None) -> dict[str, float]:
    """Thresholds (only those in `GRID`) that maximise accuracy on ``runs``, starting from the defaults."""
    score_of = (predictions or Predictions()).accuracy
    defaults = Thresholds()
    best = {name: getattr(defaults, name) for name in GRID}
    score = score_of(runs, best)
    for _ in range(passes):
        changed = False
        for name, values in GRID.items():
            for value in values:
                if value == best[name]:
                    continue
                trial = {**best, name: value}
                s = score_of(runs, trial)
                if s > score:
                    best, score, changed = trial, s, True
        if not changed:
            break
    return best


if __name__ == "__main__":
    from evaluate import load_dev

    dev = load_dev()
    predictions = Predictions()
    settings = tune(dev, predictions=predictions)
    print(f"tuned on {len(dev)} development runs: accuracy {predictions.accuracy(dev, settings):.3f} "
          f"(defaults {predictions.accuracy(dev, {}):.3f})")
    for name, value in settings.items():
        print(f"  {name} = {value:g} (default {getattr(Thresholds(), name):g})")
