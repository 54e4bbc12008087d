"""`python -m autograder grade|release|formgrader|finalize`: the instructor's commands."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import zipfile
from pathlib import Path

from .course import SOURCE
from .submissions import DEFAULT_NAMED_REGEXP


def _limits(overrides: list[str]):
    """The sandbox's default Limits with NAME=VALUE overrides from the command line (e.g. cell_timeout=300)."""
    from .limits import Limits

    limits = Limits()
    fields = {f.name for f in dataclasses.fields(limits)}
    changes = {}
    for item in overrides:
        name, _, value = item.partition("=")
        if name not in fields or not value:
            raise SystemExit(f"--limit {item!r}: expected NAME=VALUE with NAME one of {', '.join(sorted(fields))}")
        changes[name] = type(getattr(limits, name))(value)
    return dataclasses.replace(limits, **changes)


def _grade(args: argparse.Namespace) -> int:
    from .pipeline import DEFAULT_OUT, SAMPLE_CLASS, grade
    from .preflight import PreflightFailed
    from .lateness import parse_due
    from .report import table
    from .roster import RosterError, read
    from .isolation import isolation_report
    from .submissions import BadSubmissions

    out = Path(args.out or DEFAULT_OUT)
    limits = _limits(args.limit)
    try:
        roster = read(args.roster) if args.roster else None
        due = parse_due(args.due) if args.due else None
    except (RosterError, ValueError) as exc:  # before anything starts: nothing graded, nothing written
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(isolation_report(limits), file=sys.stderr)
    submissions = Path(args.submissions or SAMPLE_CLASS)
    if not (submissions.is_dir() or (submissions.is_file() and zipfile.is_zipfile(submissions))):
        print(f"error: {submissions} is neither a folder nor a zip file", file=sys.stderr)
        return 2
    try:
        results = grade(submissions, out, workers=args.workers, scheduler=args.scheduler, limits=limits,
                        assignments=args.assignments.split(",") if args.assignments else None,
                        named_regexp=args.named_regexp, progress=not args.quiet, roster=roster, due=due)
    except (BadSubmissions, PreflightFailed) as exc:  # nothing graded, nothing written
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(results))
    if roster is not None:
        strangers = sorted({r.student for r in results} - set(roster.ids()))
        if strangers:
            print(f"\nwarning: {len(strangers)} student id(s) not on the roster {args.roster}, graded under the id in "
                  f"the file or folder name: {', '.join(strangers)}", file=sys.stderr)
    late = sum(1 for r in results if r.late)
    if late:
        print(f"\n{late} submission(s) late: see the late column of grades.csv")
    flagged = sum(1 for r in results if r.flags)
    if flagged:
        print(f"\n{flagged} submission(s) flagged for a person: see the flags column of grades.csv and report.html")
    print(f"\nwrote {out / 'grades.csv'}, {out / 'report.html'}, {out / 'gradebook.db'}, "
          f"{out / 'feedback'}/, {out / 'autograded'}/")
    return 0


def _release(args: argparse.Namespace) -> int:
    from .release import RELEASE, check, generate

    if args.check:
        problems = check()
        for problem in problems:
            print(problem)
        print("release/ matches source/" if not problems else f"{len(problems)} difference(s): run "
              "`python -m autograder release` and commit release/")
        return 1 if problems else 0
    from .versions import HISTORY, load

    before = load(RELEASE / HISTORY)
    for aid in generate(RELEASE):
        print(f"release/{aid} regenerated from source/{aid}")
    for key, versions in load(RELEASE / HISTORY).items():
        if len(versions) > len(before.get(key, [])):
            latest = versions[-1]
            print(f"release/{key}: its tests changed, recorded as version {latest['version']} in "
                  f"release/{HISTORY} (commit it with release/: submissions of earlier versions are checked "
                  "against the tests their students received)")
    return 0


def _formgrader(args: argparse.Namespace) -> int:
    from .finalize import NotGraded, formgrader_command, prepare_formgrader
    from .pipeline import DEFAULT_OUT

    out = Path(args.out or DEFAULT_OUT).resolve()
    try:
        orphans = prepare_formgrader(out)
    except NotGraded as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for key in orphans:
        print(f"warning: manual grade for {'/'.join(key)} matches no graded cell (kept in manual.db.bak)",
              file=sys.stderr)
    print(f"formgrader on {out} (grades go to {out / 'manual.db'}); then: python -m autograder finalize "
          f"--out {out}", file=sys.stderr)
    os.chdir(out)  # formgrader reads nbgrader_config.py from its working directory
    cmd = formgrader_command(out, args.port, browser=not args.no_browser)
    os.execv(cmd[0], cmd)


def _finalize(args: argparse.Namespace) -> int:
    from .finalize import FINAL, NotGraded, finalize
    from .pipeline import DEFAULT_OUT

    out = Path(args.out or DEFAULT_OUT)
    try:
        grades = finalize(out)
    except NotGraded as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    final = out / FINAL
    ungraded = sum(1 for g in grades if g.ungraded)
    print(f"{len(grades)} final grades ({ungraded} with answers not graded yet): wrote {final / 'grades.csv'}, "
          f"{final / 'feedback'}/, {final / 'canvas.csv'}, {final / 'moodle.csv'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    g = commands.add_parser("grade", help="grade a folder or zip of submissions")
    g.add_argument("submissions", nargs="?", help="folder of <student>/<assignment>/*.ipynb or a zip "
                   "(default: the bundled sample class)")
    g.add_argument("--out", help="output folder (default: out/grading)")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    g.add_argument("--workers", type=int, default=min(cores, 4),
                   help="Dask LocalCluster worker processes; 1 grades serially in this process (default: cores, max 4)")
    g.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    g.add_argument("--assignments", help=f"comma-separated assignment ids (default: every folder of {SOURCE})")
    g.add_argument("--named-regexp", default=DEFAULT_NAMED_REGEXP,
                   help="regexp with student_id and file_id groups (optional: late) for flat file names in a zip, "
                   "or 'canvas' for Canvas' download names (<name>_[LATE_]<user id>_<submission id>_<file>)")
    g.add_argument("--roster", metavar="CSV", help="class roster as the LMS exports it (Canvas gradebook or people "
                   "export, Moodle participants, nbgrader's id,first_name,last_name,email,lms_user_id): names, "
                   "emails and LMS ids go into the gradebook, LMS ids in file names map to student ids, and every "
                   "roster student gets a row")
    g.add_argument("--due", metavar="WHEN", help="due date, ISO 8601 (2026-11-30T23:59, UTC unless it has an "
                   "offset such as -05:00): a submission whose time (nbgrader's timestamp.txt, else the file's "
                   "time) is later is late")
    g.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                   help="override one sandbox limit, e.g. --limit cell_timeout=300 --limit memory_mb=8192")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(run=_grade)
    r = commands.add_parser("release", help="regenerate release/ from source/")
    r.add_argument("--check", action="store_true", help="exit 1 if the committed release/ differs")
    r.set_defaults(run=_release)
    f = commands.add_parser("formgrader", help="grade written answers in nbgrader's formgrader (after grade)")
    f.add_argument("--out", help="the graded folder (default: out/grading)")
    f.add_argument("--port", type=int, default=8888)
    f.add_argument("--no-browser", action="store_true", help="do not open a browser")
    f.set_defaults(run=_formgrader)
    fin = commands.add_parser("finalize", help="autograded + manual grades to out/grading/final/: grades.csv, "
                              "feedback, canvas.csv, moodle.csv")
    fin.add_argument("--out", help="the graded folder (default: out/grading)")
    fin.set_defaults(run=_finalize)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
