"""Name what a loss curve shows: diverging, oscillating, too slow, overfitting, underfitting, or healthy.

`identify_training_issues` reads a training record (or a plain dict of lists) and returns a `Diagnosis`:
a list of `Finding` objects, most severe first, each with the numbers it rests on, a confidence, a paragraph
on what it means and the fixes to try, in the words of the framework the record came from. Every rule reads
curves only (loss, optionally gradient norm and learning rate), so it works on records from either
framework, from Keras ``History.history`` or from another tool. The thresholds live in `Thresholds`,
documented with their source; ``benchmarks/diagnosis/evaluate.py`` measures the rules on real labelled runs,
leaving one model/data family out at a time.

Modules: `thresholds` (the numbers), `curves` (the record prepared once), `rules` (one function per
finding), `causes` (findings that name a likely bug: gradient accumulation, unshuffled data, label noise), `advice` (explanations and fixes per framework), `model` (`Finding`, `Diagnosis`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..history import FRAMEWORKS, TrainingHistory, as_history
from . import causes, rules
from .curves import Curves
from .model import CAUSES, LABELS, Diagnosis, Finding
from .thresholds import Thresholds, thresholds

__all__ = ["CAUSES", "LABELS", "Diagnosis", "Finding", "Thresholds", "identify_training_issues"]


def identify_training_issues(history: TrainingHistory | Mapping[str, Any], *, framework: str | None = None,
                             **overrides: Any) -> Diagnosis:
    """Diagnose a training run from its curves.

    ``history`` is a `TrainingHistory`, a Keras ``History`` or a dict of lists (``train_loss``, optional
    ``val_loss``, ``grad_norm``, ``lr``, ``iter_loss``). ``framework`` ("torch" or "tensorflow") picks the
    vocabulary of the fixes; by default the record's own ``framework`` (a Keras ``History`` is TensorFlow).
    ``overrides`` replace fields of `Thresholds`, e.g. ``identify_training_issues(h, overfit_rise=0.2)``.
    Never raises on NaN, Inf, negative, constant or one-epoch curves; raises ValueError/TypeError only for
    empty or non-numeric input.
    """
    if framework is not None and framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)} or None, got {framework!r}")
    keras = hasattr(history, "history") and not isinstance(history, (TrainingHistory, Mapping))
    hist = as_history(history)
    if len(hist.train_loss) == 0:
        raise ValueError("the history is empty: 'train_loss' holds no values; train for at least one epoch")
    th = thresholds(overrides)
    framework = framework or hist.framework or ("tensorflow" if keras else None)
    x = rules.Context(Curves(hist), th, framework)
    findings = [f for rule in (rules.diverging, rules.oscillation, rules.overfitting, rules.slow)
                if (f := rule(x)) is not None]
    findings += rules.gradients(x)
    if not {"slow_convergence", "diverging"} & {f.label for f in findings}:  # still falling, or blew up:
        findings += rules.underfit_and_plateau(x)                          # neither settled nor stuck
    if not findings:
        findings = [rules.healthy(x)]
    findings += causes.findings(x, [f.label for f in findings])  # after the shape: never changes the primary
    findings.sort(key=lambda f: (LABELS + CAUSES).index(f.label))
    return Diagnosis(findings=findings, epochs=x.c.n)
