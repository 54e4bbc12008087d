"""Throughput of grading one class: plain serial `nbgrader autograde` vs the sandboxed Dask pool at 2 workers;
and what the second (verdict) interpreter costs per submission.

The class: 24 a1 submissions made from the reference (6 each: correct, wrong loss, evaluate without eval(), blank
release), with the unlocked demonstration cells emptied so the run measures grading rather than lecture plots.
Both runs grade the same files; the script fails unless every student's score is identical. The pool's time is
the whole `autograder.pipeline.grade` call (course build, sandbox, feedback pages, report), the baseline's only
`nbgrader autograde`, so the ratio is conservative. On a shared 2-core machine the figures are noisy.

The cost of the verdict kernel: the first --pairs submissions are graded one at a time in this process, each once
with the test cells in a second sandboxed kernel (how grading runs) and once in the student's own kernel (how it
ran before; kept reachable for this measurement only), the order alternating from one pair to the next.

    .venv/bin/python benchmarks/bench_grading.py [--students 24] [--workers 2] [--pairs 8]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from autograder import isolation, pipeline  # noqa: E402
from autograder.course import REPO, build_course, pack  # noqa: E402
from autograder.limits import Limits  # noqa: E402
from autograder.submissions import collect  # noqa: E402
from autograder.worker import grade_submission  # noqa: E402

A1 = "a1_loss_curves"
VARIANTS = {
    "correct": {},
    "wrong_loss": {"train_one_epoch": "    return 1.5 * total / count"},
    "no_eval_mode": {"evaluate": "model.train()"},
    "blank": None,
}


def _class(root: Path, n: int) -> Path:
    """n submissions cycling through VARIANTS, written as <student>/a1_loss_curves/a1_loss_curves.ipynb."""
    build_course(root / "course", [A1])
    release = nbformat.read(root / "course" / "release" / A1 / f"{A1}.ipynb", 4)
    source = nbformat.read(REPO / "source" / A1 / f"{A1}.ipynb", 4)
    solutions = {c.metadata.nbgrader["grade_id"]: c.source for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    names = list(VARIANTS)
    for i in range(n):
        variant = names[i % len(names)]
        nb = nbformat.reads(nbformat.writes(release), 4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type == "code" and gid is None:
                cell.source = "# (demonstration run left out)"
            elif VARIANTS[variant] is not None and gid in solutions:
                cell.source = _edit(solutions[gid], VARIANTS[variant].get(gid))
        folder = root / "class" / f"s{i:02d}_{variant}" / A1
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{A1}.ipynb")
    return root / "class"


def _edit(code: str, change: str | None) -> str:
    """Apply one variant's change: a replaced return line, or a line that undoes model.eval()."""
    if change is None:
        return code
    if change.strip().startswith("return"):
        return "\n".join(change if line.strip().startswith("return total / count") else line
                         for line in code.splitlines())
    return code.replace("model.eval()", f"model.eval(); {change}")


def _plain_serial(class_dir: Path, root: Path) -> tuple[float, float, dict[str, float]]:
    """nbgrader autograde, as an instructor runs it: one process, one submission after another.
    Also returns how long building the course took, the one-off step the pool's time includes."""
    from nbgrader.api import Gradebook

    course = root / "plain"
    started = time.perf_counter()
    build_course(course, [A1])
    build_s = time.perf_counter() - started
    for student in sorted(p.name for p in class_dir.iterdir()):
        dest = course / "submitted" / student / A1
        dest.mkdir(parents=True)
        (dest / f"{A1}.ipynb").write_bytes((class_dir / student / A1 / f"{A1}.ipynb").read_bytes())
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", A1, "--force",
                    f"--CourseDirectory.root={course}", "--CourseDirectory.course_id=default_course",
                    f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}", "--Execute.timeout=120",
                    "--log-level=ERROR"], cwd=course, env=env, check=True)
    seconds = time.perf_counter() - started
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "default_course") as gb:
        scores = {s.student.id: float(s.score) for s in gb.assignment_submissions(A1)}
    return seconds, build_s, scores


def _verdict_cost(class_dir: Path, root: Path, pairs: int) -> tuple[list[float], list[float], list[str]]:
    """Seconds per submission with and without the verdict kernel, interleaved; students whose scores differ."""
    course = root / "cost"
    build_course(course, [A1])
    template = pack(course)
    limits = Limits()
    two, one, differ = [], [], []
    for i, sub in enumerate(collect(class_dir, [A1])[:pairs]):
        order = (True, False) if i % 2 == 0 else (False, True)
        seconds, scores = {}, {}
        for verdict in order:
            started = time.perf_counter()
            result = grade_submission(template, sub, limits, verdict=verdict).result
            seconds[verdict], scores[verdict] = time.perf_counter() - started, result.score
        two.append(seconds[True])
        one.append(seconds[False])
        if scores[True] != scores[False]:
            differ.append(f"{sub.student}: {scores[True]} vs {scores[False]}")
    return two, one, differ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=8)
    args = parser.parse_args()
    print(isolation.isolation_report())
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        root = Path(tmp)
        class_dir = _class(root, args.students)
        serial_s, build_s, serial = _plain_serial(class_dir, root)
        started = time.perf_counter()
        results = pipeline.grade(class_dir, root / "out", workers=args.workers, assignments=[A1], progress=False)
        pool_s = time.perf_counter() - started
        two, one, cost_differ = _verdict_cost(class_dir, root, args.pairs)
    pool = {r.student: r.score for r in results}
    n = args.students
    print(f"{'run':<40}{'seconds':>10}{'submissions/min':>18}")
    print(f"{'plain nbgrader autograde, serial':<40}{serial_s:>10.1f}{60 * n / serial_s:>18.2f}")
    print(f"{f'sandboxed Dask pool, {args.workers} workers':<40}{pool_s:>10.1f}{60 * n / pool_s:>18.2f}")
    print(f"{'  the pool without its course build':<40}{pool_s - build_s:>10.1f}{60 * n / (pool_s - build_s):>18.2f}")
    print(f"speed-up (pool / serial throughput): {serial_s / pool_s:.2f}x whole call, "
          f"{serial_s / (pool_s - build_s):.2f}x without the one-off build ({build_s:.0f} s, measured on the "
          "baseline's identical build)   (noisy: shared 2-core machine)")
    print(f"\nper submission, serial, {len(two)} submissions, modes interleaved:")
    print(f"{'  test cells in a verdict kernel (now)':<40}{sum(two) / len(two):>10.1f} s")
    print(f"{'  test cells in the student kernel (before)':<40}{sum(one) / len(one):>10.1f} s")
    print(f"cost of the second interpreter: {sum(two) / sum(one):.2f}x per submission (goal <= 1.3x)")
    if cost_differ:
        print(f"SCORES DIFFER BETWEEN THE MODES: {cost_differ}")
        return 1
    differ = {s: (serial.get(s), pool.get(s)) for s in sorted(set(serial) | set(pool)) if serial.get(s) != pool.get(s)}
    if differ:
        print(f"GRADES DIFFER: {differ}")
        return 1
    print(f"grades identical for all {len(pool)} submissions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
