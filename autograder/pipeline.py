"""Grade a class: one task per submission on Dask workers (or in this process), merged into one set of outputs."""
from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import CancelledError
from datetime import datetime
from pathlib import Path
from typing import Any

from . import flags, preflight
from .course import REPO, SOURCE, build_course, ensure_alembic_on_path, pack, source_assignments
from .feedback import plain_page
from .limits import Limits
from .merge import merge
from .progress import Progress
from .report import write_csv, write_html
from .results import Outcome, Result, Status, Submission
from .roster import Roster
from .submissions import DEFAULT_NAMED_REGEXP, collect
from .worker import grade_submission

SAMPLE_CLASS = REPO / "autograder" / "sample_class"
DEFAULT_OUT = REPO / "out" / "grading"


def grade(submissions: Path | str = SAMPLE_CLASS, out: Path | str = DEFAULT_OUT, workers: int = 1,
          scheduler: str | None = None, limits: Limits | None = None, assignments: list[str] | None = None,
          source: Path | str = SOURCE, named_regexp: str = DEFAULT_NAMED_REGEXP,
          progress: bool = True, roster: Roster | None = None, due: datetime | None = None) -> list[Result]:
    """Grade every submission and write grades.csv, feedback/, autograded/, gradebook.db and report.html to out.

    workers=1 without a scheduler grades in this process, one submission after another; workers>1 starts a
    Dask LocalCluster of that many single-threaded worker processes; scheduler='tcp://host:8786' uses a running
    Dask cluster (its workers need this repository's environment installed). roster (names, emails, LMS ids)
    and due (the deadline) go into the gradebook and decide what counts as late."""
    ensure_alembic_on_path()
    source, out = Path(source), Path(out)
    assignments = assignments or source_assignments(source)
    todo = collect(Path(submissions), assignments, named_regexp, roster=roster, due=due)
    limits = limits if limits is not None else Limits()
    preflight.check(limits, scheduler)  # one kernel runs a trivial cell where grading runs, or nothing is graded
    with tempfile.TemporaryDirectory(prefix="autograder-course-") as tmp:
        course = Path(tmp)
        build_course(course, assignments, source, roster=roster, due=due)
        template = pack(course)
        bar = Progress(len(todo), enabled=progress)
        outcomes = []
        for outcome in _run(template, todo, limits, workers, scheduler, _max_scores(course)):
            outcomes.append(outcome)
            bar.step(f"{outcome.result.student}/{outcome.result.assignment}: {outcome.result.status}")
        outcomes.sort(key=lambda o: (o.result.student, o.result.assignment))
        _flag(outcomes, todo, course / "release")
        _write(out, outcomes, course / "gradebook.db", source)
    return [o.result for o in outcomes]


def _flag(outcomes: list[Outcome], todo: list[Submission], release: Path) -> None:
    """Flags for a person, read from each submission's own files (static analysis: no student code runs)."""
    handed_in = {(s.student, s.assignment): s.files for s in todo}
    for outcome in outcomes:
        r = outcome.result
        found = flags.scan_submission(handed_in.get((r.student, r.assignment), {}), release / r.assignment,
                                      r.assignment)
        r.flags = flags.describe(found)


def _max_scores(course: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {a.name: float(a.max_score) for a in gb.assignments}


def _run(template: bytes, todo: list[Submission], limits: Any, workers: int, scheduler: str | None,
         max_scores: dict[str, float]) -> Iterator[Outcome]:
    if scheduler is None and workers <= 1:
        for submission in todo:
            yield grade_submission(template, submission, limits)
        return
    import dask
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        # Dask's active memory manager would drop the broadcast template's extra copies, so losing one worker
        # could lose the template for every submission: keep one copy on each worker.
        with dask.config.set({"distributed.scheduler.active-memory-manager.start": False}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR)
    client = Client(cluster if cluster is not None else scheduler)
    try:
        shared = client.scatter(template, broadcast=True)
        futures = {client.submit(grade_submission, shared, sub, limits, pure=False): sub for sub in todo}
        retried: set[int] = set()
        queue = as_completed(futures)
        for future in queue:
            try:
                yield future.result()
            except CancelledError as exc:
                # A worker lost under load can take the scattered template with it, which cancels every
                # submission waiting on it: scatter it again and grade each of those once more.
                sub = futures[future]
                if id(sub) in retried:
                    yield _lost(sub, exc, max_scores)
                    continue
                retried.add(id(sub))
                if shared.status != "finished":
                    shared = client.scatter(template, broadcast=True)
                again = client.submit(grade_submission, shared, sub, limits, pure=False)
                futures[again] = sub
                queue.add(again)
            except Exception as exc:  # the worker itself died (KilledWorker ...): this submission still gets a row
                yield _lost(futures[future], exc, max_scores)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _lost(sub: Submission, exc: BaseException, max_scores: dict[str, float]) -> Outcome:
    """The row of a submission whose grading worker was lost."""
    reason = f"grading worker lost: {type(exc).__name__}: {exc}"
    result = Result(sub.student, sub.assignment, 0.0, max_scores[sub.assignment], Status.KERNEL_DIED, reason)
    page = plain_page(sub.student, sub.assignment, 0.0, result.max_score, result.status, reason)
    return Outcome(result, feedback={f"{sub.assignment}.html": page})


def _write(out: Path, outcomes: list[Outcome], template_db: Path, source: Path) -> None:
    """Replace the previous run's outputs: a rerun never mixes with an older one."""
    out.mkdir(parents=True, exist_ok=True)
    for folder in ("autograded", "feedback"):
        shutil.rmtree(out / folder, ignore_errors=True)
    for outcome in outcomes:
        r = outcome.result
        for kind, files in (("autograded", outcome.autograded), ("feedback", outcome.feedback)):
            folder = out / kind / r.student / r.assignment
            for name, data in files.items():
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)
    results = [o.result for o in outcomes]
    merge(template_db, out / "gradebook.db", outcomes)
    write_csv(results, out / "grades.csv")
    write_html(results, out / "report.html", source)
