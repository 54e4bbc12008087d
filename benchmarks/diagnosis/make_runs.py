"""Generate the labelled training runs that `evaluate.py` scores the diagnosis on.

    .venv/bin/python benchmarks/diagnosis/make_runs.py                      # everything, both frameworks
    .venv/bin/python benchmarks/diagnosis/make_runs.py --frameworks torch --seeds 0 --out /tmp/part0.json
    .venv/bin/python benchmarks/diagnosis/make_runs.py --merge /tmp/part*.json   # pieces -> labelled_runs.json

Every run trains for real (PyTorch or Keras, fixed seeds) with one controlled cause (families.py), then its
label is checked against the run itself (checks.py); runs that do not show their cause are dropped and
listed. The output keeps per-epoch series, per-layer weight-gradient norms and a decimated per-iteration
loss, rounded to 4 significant digits, so the file stays small enough to commit.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from checks import check  # noqa: E402
from families import DEV_SEEDS, RunSpec, load, specs  # noqa: E402
from trainers import train  # noqa: E402

from losslab.core.history import TrainingHistory  # noqa: E402

OUT = Path(__file__).resolve().parent / "labelled_runs.json"
MAX_ITER_POINTS = 200


def generate(frameworks: list[str], seeds: tuple[int, ...], families: tuple[str, ...] | None = None) -> dict:
    runs, dropped = [], []
    plan = specs(seeds, families)
    start, cpu = time.perf_counter(), time.process_time()
    for fw in frameworks:
        records: dict[RunSpec, TrainingHistory] = {}
        for spec in plan:
            t = time.perf_counter()
            records[spec] = train(spec, load(spec), fw)
            print(f"{time.perf_counter() - t:5.1f}s {fw:10s} {spec.name}", flush=True)
        for spec, hist in records.items():
            floor = load(spec).floor
            ok, why = check(spec.cause, hist, _twin(spec, records), floor)
            entry = {"name": f"{fw}/{spec.name}", "framework": fw, "label": spec.cause, "check": why,
                     "floor": floor}
            if ok:
                runs.append({**entry, "spec": spec.to_dict(), "history": _compact(hist)})
            else:
                dropped.append(entry)
                print(f"DROPPED {entry['name']}: {why}", flush=True)
    print(f"{len(runs)} runs kept, {len(dropped)} dropped; {time.perf_counter() - start:.0f} s wall, "
          f"{time.process_time() - cpu:.0f} s CPU (this process)", flush=True)
    return {"seeds": list(seeds), "frameworks": frameworks, "runs": runs, "dropped": dropped}


def _twin(spec: RunSpec, records: dict[RunSpec, TrainingHistory]) -> TrainingHistory | None:
    """The healthy run on the same data and seed, same family first (the reference a relative check needs)."""
    healthy = [s for s in records if s.cause == "healthy" and s.data == spec.data and s.seed == spec.seed]
    healthy.sort(key=lambda s: s.family != spec.family)
    return records[healthy[0]] if healthy else None


def _compact(h: TrainingHistory) -> dict:
    step = max(1, math.ceil(len(h.iter_loss) / MAX_ITER_POINTS))
    layers = {k: v for k, v in h.layer_grad_norm.items() if "bias" not in k.lower()}
    return {"train_loss": _r(h.train_loss), "val_loss": _r(h.val_loss), "grad_norm": _r(h.grad_norm),
            "lr": _r(h.lr), "iter_loss": _r(h.iter_loss[::step]), "layer_grad_norm": {k: _r(v) for k, v in
                                                                                        layers.items()},
            "stop_reason": h.stop_reason, "meta": {"iter_stride": step, **_rmeta(h.meta)}}


def _r(values: list[float]) -> list[float]:
    return [float(f"{v:.4g}") if math.isfinite(v) else v for v in values]


def _rmeta(meta: dict) -> dict:
    return {k: (float(f"{v:.4g}") if isinstance(v, float) and math.isfinite(v) else v) for k, v in meta.items()}


def merge(paths: list[Path]) -> dict:
    """Join part files; runs labelled diverging are checked again (that check needs no twin), so parts made
    before its definition changed follow the current one."""
    parts = [json.loads(p.read_text()) for p in paths]
    runs, dropped = [], [d for p in parts for d in p["dropped"]]
    for r in (r for p in parts for r in p["runs"]):
        ok, why = check(r["label"], TrainingHistory.from_dict(r["history"]), None) if r["label"] == "diverging" \
            else (True, r["check"])
        if ok:
            runs.append({**r, "check": why})
        else:
            dropped.append({k: r[k] for k in ("name", "framework", "label")} | {"check": why})
            print(f"DROPPED {r['name']}: {why}", flush=True)
    return {"seeds": sorted({s for p in parts for s in p["seeds"]}),
            "frameworks": sorted({f for p in parts for f in p["frameworks"]}), "runs": runs, "dropped": dropped}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frameworks", nargs="+", default=["torch", "tensorflow"])
    ap.add_argument("--seeds", nargs="+", type=int, default=list(DEV_SEEDS))
    ap.add_argument("--families", nargs="+", help="only these families (default: all)")
    ap.add_argument("--merge", nargs="+", type=Path, help="merge part files instead of training")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    data = merge(args.merge) if args.merge else generate(args.frameworks, tuple(args.seeds),
                                                             tuple(args.families) if args.families else None)
    args.out.write_text(json.dumps(data, separators=(",", ":")))
    counts: dict[str, int] = {}
    for r in data["runs"]:
        counts[r["label"]] = counts.get(r["label"], 0) + 1
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {len(data['runs'])} runs {counts}")


if __name__ == "__main__":
    main()
