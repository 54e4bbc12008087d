"""Execute every lecture notebook with nbclient and print its wall time against the course's targets.

Targets (issue 12): each notebook < 60 s, all of them < 8 min serial, on a 2-core CPU. The wall time
includes kernel start and imports, as a student experiences it. On a shared machine wall times are noisy,
so the kernel's CPU time (user + system, from the reaped kernel process) is printed beside it, with the
load average.

    python benchmarks/bench_lectures.py                 # all lectures, both frameworks
    python benchmarks/bench_lectures.py 01 03_          # only notebooks whose name contains one of these
"""
from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
PER_NOTEBOOK_S, TOTAL_S = 60.0, 480.0


def run(path: Path) -> tuple[float, float, str]:
    """Wall and kernel CPU seconds of one top-to-bottom run in a fresh python3 kernel, and 'ok' or the error."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        client.execute()
        status = "ok"
    except CellExecutionError as err:
        status = "error: " + str(err).strip().splitlines()[-1][:80]
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the kernel has exited and been reaped by now
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="substrings of notebook names to run (default: all)")
    args = parser.parse_args()
    os.environ.pop("MPLBACKEND", None)  # let the kernel use the inline backend: drawing figures is part of the cost
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # TF 2.21 prints its oneDNN notice at any log level
    paths = sorted((ROOT / "course").glob("*/[0-9][0-9]_*.ipynb"), key=lambda p: (p.name, p.parent.name))
    paths = [p for p in paths if not args.only or any(s in p.name for s in args.only)]
    if not paths:
        print("no lecture notebooks matched")
        return 1
    print(f"{'notebook':<48} {'wall s':>7} {'CPU s':>7}  status")
    total, total_cpu, failures = 0.0, 0.0, 0
    for path in paths:
        seconds, cpu, status = run(path)
        total += seconds
        total_cpu += cpu
        over = seconds >= PER_NOTEBOOK_S
        failures += status != "ok" or over
        flag = f"  (over {PER_NOTEBOOK_S:.0f} s)" if over else ""
        print(f"{path.parent.name + '/' + path.name:<48} {seconds:7.1f} {cpu:7.1f}  {status}{flag}", flush=True)
    print(f"{'total (serial)':<48} {total:7.1f} {total_cpu:7.1f}  target < {TOTAL_S:.0f} s over all {len(paths)}")
    print(f"load average while running: {' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
