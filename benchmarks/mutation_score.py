"""Mutation score of the assignments' tests: how many realistic wrong solutions (tests/assignments/mutants.py) the
autograder scores below the reference, per assignment, graded through the pipeline as one class each.

Prints one line per mutant (score, failing test cells) and then, per assignment, killed / total and the names of
the survivors, with the time each grading call took (a shared 2-core machine: the times are noisy).

    .venv/bin/python benchmarks/mutation_score.py [a1_loss_curves a2_losses_optimizers ...] [--workers 2]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.assignments.mutants import MUTANTS, REFERENCE, grade_mutants  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", default=list(MUTANTS), choices=list(MUTANTS), metavar="AID")
    parser.add_argument("--workers", type=int, default=2, help="grading processes (default 2)")
    args = parser.parse_args(argv)
    summary = []
    for aid in args.assignments:
        with tempfile.TemporaryDirectory(prefix=f"mutants-{aid}-") as tmp:
            graded = grade_mutants(aid, Path(tmp), workers=args.workers)
        reference = graded.results[REFERENCE]
        print(f"\n{aid}: {len(MUTANTS[aid])} mutants and the reference ({reference.score:g}/{graded.full:g}, "
              f"{reference.seconds:.0f} s) graded in {graded.seconds:.0f} s with {args.workers} worker(s)")
        for mutant in MUTANTS[aid]:
            if mutant.name in graded.unapplied:
                print(f"  {mutant.name:26s} NOT APPLIED: {'; '.join(graded.unapplied[mutant.name])}")
                continue
            result = graded.results[mutant.name]
            verdict = "killed  " if graded.killed(mutant.name) else "SURVIVED"
            print(f"  {verdict} {mutant.name:26s} {result.score:4g}/{graded.full:g} {result.status:8s} "
                  f"{result.seconds:4.0f} s  {mutant.function}: {', '.join(graded.failing(mutant.name)) or '-'}")
        killed = [m.name for m in MUTANTS[aid] if graded.killed(m.name)]
        survived = [m.name for m in MUTANTS[aid] if m.name in graded.results and not graded.killed(m.name)]
        summary.append(f"{aid}: killed {len(killed)}/{len(MUTANTS[aid])}"
                       + (f"; survived: {', '.join(survived)}" if survived else "")
                       + (f"; not applied: {', '.join(graded.unapplied)}" if graded.unapplied else ""))
    print("\nmutation score")
    for line in summary:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
