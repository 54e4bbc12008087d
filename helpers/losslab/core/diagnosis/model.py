"""What a diagnosis returns: `Finding` (one thing the curves show) and `Diagnosis` (all of them, ranked)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Every label a finding can carry, most severe first (this order sorts `Diagnosis.findings`).
LABELS = ("diverging", "exploding_gradients", "vanishing_gradients", "overfitting", "oscillation",
          "slow_convergence", "underfitting", "plateau", "healthy")
#: Labels of findings that name a likely bug behind the curves (`causes`); ranked after every shape label,
#: so the primary verdict stays the shape (a run can diverge *because* its gradients accumulate).
CAUSES = ("gradient_accumulation", "unshuffled_data", "label_noise")


@dataclass
class Finding:
    """One thing the curves show: a label, the numbers behind it, what it means, what to try, how sure.

    Epochs are counted from 1 in ``summary``, ``explanation``, ``str()`` and every evidence entry whose name
    ends in ``_epoch`` or ``_iteration`` (as the plots and Keras' log count them). ``epoch`` alone is a 0-based
    *index* into the record (``history.val_loss[finding.epoch]``), for code that slices the series.
    ``confidence`` runs from 0 to 1: 1 for a NaN/Inf loss, 0.5 for a rule that only just fired, lower where
    the curves cannot settle the question (the summary then says why).
    """

    label: str
    evidence: dict[str, float]
    explanation: str
    fixes: list[str]
    epoch: int | None = None
    summary: str = ""
    confidence: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "epoch": self.epoch, "summary": self.summary, "confidence": self.confidence,
                "evidence": dict(self.evidence), "explanation": self.explanation, "fixes": list(self.fixes)}

    def __str__(self) -> str:
        numbers = ", ".join(f"{k}={_fmt(v)}" for k, v in self.evidence.items())
        lines = [f"- {self.label.replace('_', ' ')} (confidence {self.confidence:.2f}): {self.summary}",
                 f"    evidence: {numbers}", f"    why: {self.explanation}"]
        lines += [f"    try: {fix}" for fix in self.fixes]
        return "\n".join(lines)


@dataclass
class Diagnosis:
    """The findings on one run, most severe first; ``healthy`` when nothing is wrong."""

    findings: list[Finding] = field(default_factory=list)
    epochs: int = 0

    @property
    def labels(self) -> list[str]:
        return [f.label for f in self.findings]

    @property
    def primary(self) -> str:
        return self.findings[0].label if self.findings else "healthy"

    @property
    def causes(self) -> list[str]:
        """The labels of the cause findings (a likely bug behind the curves), in rank order."""
        return [f.label for f in self.findings if f.label in CAUSES]

    @property
    def healthy(self) -> bool:
        """The curves' shape is healthy and no cause finding points to a bug."""
        return self.primary == "healthy" and not self.causes

    def __contains__(self, label: object) -> bool:
        return label in self.labels

    def __getitem__(self, label: str) -> Finding:
        for finding in self.findings:
            if finding.label == label:
                return finding
        raise KeyError(f"no {label!r} finding; found: {', '.join(self.labels)}")

    def to_dict(self) -> dict[str, Any]:
        return {"primary": self.primary, "labels": self.labels, "healthy": self.healthy, "causes": self.causes,
                "epochs": self.epochs, "findings": [f.to_dict() for f in self.findings]}

    def __str__(self) -> str:
        heads = []
        for f in self.findings:
            name = f.label.replace("_", " ")
            heads.append(f"{name} (from epoch {f.epoch + 1})" if f.epoch is not None else name)
        return f"{', '.join(heads)} [{self.epochs} epochs]\n" + "\n".join(str(f) for f in self.findings)

    def __repr__(self) -> str:
        return f"Diagnosis({self.labels}, epochs={self.epochs})"


def _fmt(v: float) -> str:
    """Whole numbers (epoch counts) without a decimal point, others to 4 significant digits."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}" if isinstance(v, float) else str(v)
