"""Score `identify_training_issues` on the labelled runs, beside two baselines, in one run.

    .venv/bin/python benchmarks/diagnosis/evaluate.py [labelled_runs.json]

Prints, for ours, the naive rule and AUTOTRAINER's curve rules (baselines.py): per-label precision and
recall, a confusion matrix (rows: true label, columns: predicted primary label), overall accuracy, the same
accuracy split by framework (the thresholds were tuned on the PyTorch runs; the TensorFlow runs are held
out) and by seed, and the issue-5 targets. "ours-epochs" is the same diagnosis given only the per-epoch
train and validation losses (a Keras ``History.history``), without per-iteration losses or gradient norms. A prediction counts when the diagnosis' *primary* finding
equals the label; an exploding-gradient verdict counts as diverging (both mean "the steps blew up").
"""
from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import autotrainer, naive  # noqa: E402

from losslab.core.diagnosis import identify_training_issues  # noqa: E402
from losslab.core.history import TrainingHistory  # noqa: E402

DATA = Path(__file__).resolve().parent / "labelled_runs.json"
ALIAS = {"exploding_gradients": "diverging"}


def ours(h: TrainingHistory) -> str:
    return identify_training_issues(h).primary


def ours_losses_only(h: TrainingHistory) -> str:
    """What a Keras ``History.history`` user gets: per-epoch losses, no per-iteration loss, no gradients."""
    return identify_training_issues({"train_loss": h.train_loss, "val_loss": h.val_loss}).primary


METHODS: dict[str, Callable[[TrainingHistory], str]] = {
    "ours": ours, "ours-epochs": ours_losses_only, "naive": naive, "autotrainer": autotrainer}


def load(path: Path = DATA) -> list[dict]:
    runs = json.loads(path.read_text())["runs"]
    for r in runs:
        r["record"] = TrainingHistory.from_dict(r["history"])
    return runs


def predict(runs: list[dict]) -> dict[str, list[str]]:
    return {m: [_alias(f(r["record"])) for r in runs] for m, f in METHODS.items()}


def scores(truth: list[str], pred: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for label in sorted(set(truth)):
        tp = sum(t == p == label for t, p in zip(truth, pred))
        n_pred, n_true = pred.count(label), truth.count(label)
        out[label] = {"precision": tp / n_pred if n_pred else math.nan, "recall": tp / n_true, "n": n_true}
    return out


def accuracy(truth: list[str], pred: list[str]) -> float:
    return sum(t == p for t, p in zip(truth, pred)) / len(truth) if truth else math.nan


def confusion(truth: list[str], pred: list[str]) -> str:
    rows = sorted(set(truth))
    cols = rows + sorted(set(pred) - set(rows))
    counts = Counter(zip(truth, pred))
    width = max(map(len, cols)) + 1
    head = " " * width + "".join(f"{c[:7]:>8}" for c in cols)
    lines = [head] + [f"{r:<{width}}" + "".join(f"{counts[(r, c)] or '.':>8}" for c in cols) for r in rows]
    return "\n".join(lines)


def report(runs: list[dict]) -> dict[str, float]:
    truth = [r["label"] for r in runs]
    preds = predict(runs)
    print(f"{len(runs)} labelled runs: {dict(sorted(Counter(truth).items()))}\n")
    per = {m: scores(truth, p) for m, p in preds.items()}
    anywhere = _recall_anywhere(runs)
    print("P = precision, R = recall of the primary verdict; ours R* = recall counting any of our findings")
    print(f"{'label':<20}{'n':>4}" + "".join(f"{m + ' P':>14}{m + ' R':>14}" for m in METHODS) + f"{'ours R*':>10}")
    for label in sorted(set(truth)):
        print(f"{label:<20}{truth.count(label):>4}"
              + "".join(f"{_f(per[m][label]['precision']):>14}{_f(per[m][label]['recall']):>14}" for m in METHODS)
              + f"{_f(anywhere[label]):>10}")
    acc = {m: accuracy(truth, p) for m, p in preds.items()}
    print(f"{'overall accuracy':<24}" + "".join(f"{_f(acc[m]):>28}" for m in METHODS))
    for key in ("framework", "seed"):
        groups = sorted({_group(r, key) for r in runs})
        for g in groups:
            idx = [i for i, r in enumerate(runs) if _group(r, key) == g]
            accs = "".join(f"{_f(accuracy([truth[i] for i in idx], [preds[m][i] for i in idx])):>28}"
                           for m in METHODS)
            print(f"{'  ' + (g if key == 'framework' else 'seed ' + g) + f' (n={len(idx)})':<24}" + accs)
    for m in METHODS:
        print(f"\nconfusion matrix, {m} (rows: true, columns: predicted)\n{confusion(truth, preds[m])}")
    print("\nmisdiagnosed by ours:")
    for r, p in zip(runs, preds["ours"]):
        if p != r["label"]:
            print(f"  {r['name']}: {p}   [{', '.join(identify_training_issues(r['record']).labels)}]")
    return _targets(runs, truth, preds["ours"], per["ours"], acc["ours"])


def _recall_anywhere(runs: list[dict]) -> dict[str, float]:
    hits: Counter = Counter()
    for r in runs:
        labels = {_alias(x) for x in identify_training_issues(r["record"]).labels}
        hits[r["label"]] += r["label"] in labels
    totals = Counter(r["label"] for r in runs)
    return {label: hits[label] / totals[label] for label in totals}


def _targets(runs, truth, pred, per, acc) -> dict[str, float]:
    diverged = [r for r in runs if r["label"] == "diverging"
                or not all(math.isfinite(v) for v in r["record"].train_loss + r["record"].val_loss)]
    called_healthy = sum(identify_training_issues(r["record"]).healthy for r in diverged)
    no_evidence = sum(not f.evidence or not f.fixes or not f.explanation
                      for r in runs for f in identify_training_issues(r["record"]).findings)
    print("\nissue 5 targets (ours):")
    print(f"  diverged/NaN runs called healthy: {called_healthy} of {len(diverged)} (target 0)")
    frameworks = sorted({r["framework"] for r in runs})
    for label in ("diverging", "overfitting", "slow_convergence"):
        by_fw = []
        for fw in frameworks:
            idx = [i for i, r in enumerate(runs) if r["framework"] == fw and truth[i] == label]
            by_fw.append(f"{fw} {_f(sum(pred[i] == label for i in idx) / len(idx) if idx else math.nan)}")
        print(f"  recall {label}: {_f(per.get(label, {}).get('recall', math.nan))} (target >= 0.9; "
              f"{', '.join(by_fw)})")
    print(f"  overall accuracy: {_f(acc)} (target >= 0.85)")
    print(f"  findings without evidence, explanation or fixes: {no_evidence} (target 0)")
    return {"accuracy": acc, "called_healthy": called_healthy}


def _alias(label: str) -> str:
    return ALIAS.get(label, label)


def _group(run: dict, key: str) -> str:
    return str(run["framework"] if key == "framework" else run["spec"]["seed"])


def _f(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:.2f}"


if __name__ == "__main__":
    report(load(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA))
