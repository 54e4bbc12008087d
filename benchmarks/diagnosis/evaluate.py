"""Score `identify_training_issues` on labelled runs it was not tuned on, beside two baselines.

    .venv/bin/python benchmarks/diagnosis/evaluate.py            # leave-one-family-out on the development set
    .venv/bin/python benchmarks/diagnosis/evaluate.py --frozen   # the committed thresholds on the frozen split

Development set (``labelled_runs.json``, seeds 0-2): for each model/data family, the thresholds in
``tune.GRID`` are re-tuned on every *other* family (``tune.py``) and the diagnosis is scored on the family
left out, so a rule that only fits the families it was shaped on shows up as a low held-out score. The
table gives, per held-out family: ours with thresholds tuned without it, ours with the committed defaults,
"ours-epochs" (the tuned diagnosis given only per-epoch losses, what a Keras ``History.history`` holds), the
naive rule and AUTOTRAINER's curve rules (baselines.py). Per-label precision and recall are pooled over the
held-out families. Frozen split (``frozen_runs.json``, seed 3 of every family): scored only with
``--frozen``, with the committed thresholds; ``tune.py`` never reads it. A prediction counts when the
diagnosis' *primary* finding equals the label; an exploding-gradient verdict counts as diverging.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import autotrainer, naive  # noqa: E402
from tune import ALIAS, Predictions, tune  # noqa: E402

from losslab.core.diagnosis import identify_training_issues  # noqa: E402
from losslab.core.history import TrainingHistory  # noqa: E402

HERE = Path(__file__).resolve().parent
DEV, FROZEN = HERE / "labelled_runs.json", HERE / "frozen_runs.json"
Method = Callable[[TrainingHistory], str]


def load(path: Path) -> list[dict]:
    runs = json.loads(path.read_text())["runs"]
    for r in runs:
        r["record"] = TrainingHistory.from_dict(r["history"])
        r["family"] = r["spec"]["family"]
    return runs


def load_dev(path: Path = DEV) -> list[dict]:
    """The development runs: the only ones tuning may read."""
    return load(path)


def ours(settings: dict[str, float]) -> Method:
    return lambda h: identify_training_issues(h, **settings).primary


def ours_losses_only(settings: dict[str, float]) -> Method:
    """What a Keras ``History.history`` user gets: per-epoch losses, no per-iteration loss, no gradients."""
    return lambda h: identify_training_issues({"train_loss": h.train_loss, "val_loss": h.val_loss},
                                              **settings).primary


BASELINES: dict[str, Method] = {"naive": naive, "autotrainer": autotrainer}


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


def leave_one_family_out(runs: list[dict]) -> dict[str, list[str]]:
    """Predictions for every run from thresholds tuned without its family, plus defaults and baselines.

    Each run's tuned thresholds are kept in ``run["settings"]``, so its misdiagnosis is explained with them.
    """
    preds: dict[str, list[str]] = {m: [""] * len(runs) for m in ("ours", "ours-defaults", "ours-epochs",
                                                                   *BASELINES)}
    families = sorted({r["family"] for r in runs})
    cache = Predictions()
    for fam in families:
        train = [r for r in runs if r["family"] != fam]
        settings = tune(train, predictions=cache)
        changed = {k: v for k, v in settings.items() if v != getattr(_defaults(), k)}
        print(f"  held out {fam:<24} tuned on {len(train)} runs: {changed or 'defaults kept'}", flush=True)
        methods = {"ours": ours(settings), "ours-defaults": ours({}), "ours-epochs": ours_losses_only(settings),
                   **BASELINES}
        for i, r in enumerate(runs):
            if r["family"] == fam:
                r["settings"] = settings
                for m, f in methods.items():
                    preds[m][i] = _alias(f(r["record"]))
    return preds


def report(runs: list[dict], preds: dict[str, list[str]], title: str) -> dict[str, float]:
    truth = [r["label"] for r in runs]
    methods = list(preds)
    print(f"\n== {title}: {len(runs)} labelled runs {dict(sorted(Counter(truth).items()))}")
    print(f"\naccuracy per family{'':<10}{'n':>5}" + "".join(f"{m:>15}" for m in methods))
    for key in ("family", "framework"):
        for g in sorted({r[key] for r in runs}):
            idx = [i for i, r in enumerate(runs) if r[key] == g]
            print(f"  {g:<30}{len(idx):>4}" + "".join(
                f"{_f(accuracy([truth[i] for i in idx], [preds[m][i] for i in idx])):>15}" for m in methods))
    print(f"  {'all':<30}{len(runs):>4}" + "".join(f"{_f(accuracy(truth, preds[m])):>15}" for m in methods))
    per = {m: scores(truth, p) for m, p in preds.items()}
    print("\nP = precision, R = recall of the primary verdict")
    print(f"{'label':<20}{'n':>4}" + "".join(f"{m + ' P':>16}{m + ' R':>16}" for m in methods))
    for label in sorted(set(truth)):
        print(f"{label:<20}{truth.count(label):>4}" + "".join(
            f"{_f(per[m][label]['precision']):>16}{_f(per[m][label]['recall']):>16}" for m in methods))
    print(f"\nconfusion matrix, {methods[0]} (rows: true, columns: predicted)\n{confusion(truth, preds[methods[0]])}")
    print(f"\nmisdiagnosed by {methods[0]}:")
    for r, p in zip(runs, preds[methods[0]]):
        if p != r["label"]:
            d = identify_training_issues(r["record"], **r.get("settings", {}))
            print(f"  {r['name']}: {p}   [{d.findings[0].summary[:110]}]")
    diverged = [i for i, r in enumerate(runs) if r["label"] == "diverging"
                or not all(math.isfinite(v) for v in r["record"].train_loss + r["record"].val_loss)]
    called_healthy = sum(preds[methods[0]][i] == "healthy" for i in diverged)
    no_evidence = sum(not f.evidence or not f.fixes or not f.explanation
                      for r in runs for f in identify_training_issues(r["record"]).findings)
    acc = accuracy(truth, preds[methods[0]])
    print(f"\ntargets ({methods[0]}): accuracy {_f(acc)} (>= 0.95); diverged/NaN runs called healthy: "
          f"{called_healthy} of {len(diverged)} (0); findings without evidence, explanation or fixes: "
          f"{no_evidence} (0)")
    return {"accuracy": acc, "called_healthy": called_healthy}


def _defaults():
    from losslab.core.diagnosis import Thresholds

    return Thresholds()


def _alias(label: str) -> str:
    return ALIAS.get(label, label)


def _f(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frozen", action="store_true", help="score the frozen split (committed thresholds only)")
    ap.add_argument("--dev", type=Path, default=DEV, help="the development runs (default: %(default)s)")
    args = ap.parse_args()
    if args.frozen:
        runs = load(FROZEN)
        methods = {"ours": ours({}), "ours-epochs": ours_losses_only({}), **BASELINES}
        preds = {m: [_alias(f(r["record"])) for r in runs] for m, f in methods.items()}
        report(runs, preds, "frozen split, committed thresholds (never tuned on)")
        return
    runs = load_dev(args.dev)
    print("leave-one-family-out: tuning on the other families (tune.GRID)")
    report(runs, leave_one_family_out(runs), "development set, each family scored while held out")


if __name__ == "__main__":
    main()
