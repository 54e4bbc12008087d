"""Grade ONE submission in its own fresh course directory: the unit of work a Dask worker runs."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

from . import kernel_record, sandbox
from . import versions
from .checks import Unreadable, drop_unknown_ids, read_notebook
from .config import autograde_config, feedback_config
from .course import run_converter, unpack
from .feedback import plain_page, with_banner
from .results import CellScore, Outcome, Result, Status, Submission

#: One thread per kernel: a worker per core then scales, serial and parallel runs compute alike, and the student
#: and verdict kernels compute alike (a test compares what one computed with what the other did).
KERNEL_THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
                  "TF_NUM_INTEROP_THREADS": "1"}



def grade_submission(template: bytes, submission: Submission, limits: Any, verdict: bool = True) -> Outcome:
    """Never raises: whatever the student handed in, the answer is a grade and a reason.

    verdict=False (test cells in the student's own kernel) exists only for benchmarks/bench_grading.py."""
    started = time.perf_counter()
    for name, value in KERNEL_THREADS.items():
        os.environ.setdefault(name, value)
    with tempfile.TemporaryDirectory(prefix=f"autograder-{submission.student}-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        unpack(template, root)
        try:
            outcome = _grade_in(root, submission, limits, verdict)
        except Exception as exc:  # a grader bug must not cost the other students their grades
            outcome = _failed(root, submission, Status.KERNEL_DIED, f"grading failed: {type(exc).__name__}: {exc}")
    outcome.result.seconds = round(time.perf_counter() - started, 2)
    return outcome


def _notebook_names(root: Path, aid: str) -> list[str]:
    return sorted(p.name for p in (root / "release" / aid).glob("*.ipynb"))


def _is_test(notebook: Any, cell: Any) -> bool:
    """A test cell (autograded), as opposed to an answer a person grades."""
    return cell.cell_type == "code" and cell.name not in {c.name for c in notebook.solution_cells}


def _zero_cells(root: Path, aid: str) -> list[CellScore]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return [CellScore(nb.name, cell.name, 0.0, float(cell.max_score), 0.0, False, _is_test(nb, cell))
                for nb in gb.find_assignment(aid).notebooks for cell in nb.grade_cells]


def _failed(root: Path, sub: Submission, status: Status, reason: str) -> Outcome:
    cells = _zero_cells(root, sub.assignment)
    max_score = sum(c.max_score for c in cells)
    page = plain_page(sub.student, sub.assignment, 0.0, max_score, status, reason, late=sub.late)
    feedback = {name.replace(".ipynb", ".html"): page for name in _notebook_names(root, sub.assignment)}
    return Outcome(Result(sub.student, sub.assignment, 0.0, max_score, status, reason, cells,
                          submitted_at=sub.submitted_at, late=sub.late), feedback=feedback)


def _place_files(root: Path, sub: Submission, expected: list[str]) -> dict[str, bytes]:
    """Write the submission where nbgrader looks; a single notebook under another name is taken as the one."""
    files = dict(sub.files)
    notebooks = [name for name in files if name.endswith(".ipynb")]
    if len(expected) == 1 and expected[0] not in files and len(notebooks) == 1:
        files[expected[0]] = files.pop(notebooks[0])
    folder = root / "submitted" / sub.student / sub.assignment
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def _grade_in(root: Path, sub: Submission, limits: Any, verdict: bool) -> Outcome:
    expected = _notebook_names(root, sub.assignment)
    files = _place_files(root, sub, expected)
    present = [name for name in expected if name in files]
    if not present:
        handed_in = ", ".join(sorted(files)) or "nothing"
        return _failed(root, sub, Status.MISSING, f"no submission (expected {', '.join(expected)}; found {handed_in})")

    facts: dict[Status, list[str]] = {}
    notes: list[str] = []
    for name in present:
        try:
            submitted = read_notebook(files[name])
        except Unreadable as exc:
            return _failed(root, sub, Status.UNREADABLE, f"{name}: {exc}")
        released = nbformat.read(root / "release" / sub.assignment / name, 4)
        missing, edited, received = versions.compare_with_received(submitted, released, root, sub.assignment, name)
        if received:
            notes.append(received)
        if drop_unknown_ids(submitted, released):
            nbformat.write(submitted, root / "submitted" / sub.student / sub.assignment / name)
        if missing:
            facts.setdefault(Status.CELLS_MISSING, []).append(f"graded cells deleted or renamed, restored: {', '.join(missing)}")
        if edited:
            facts.setdefault(Status.TAMPERED, []).append(f"test cells edited, restored: {', '.join(edited)}")
    for name in sorted(set(expected) - set(present)):
        facts.setdefault(Status.CELLS_MISSING, []).append(f"notebook {name} missing, scored 0")

    from nbgrader.converters import Autograde

    config = autograde_config(root)
    sandbox.apply(config, limits, root, verdict=verdict)
    run = run_converter(Autograde, config, assignment_id=sub.assignment, student_id=sub.student, force=True)
    for status, reason in kernel_record.findings(root):  # the one source of why a kernel died
        facts.setdefault(status, []).append(reason)
    reasons = [text for status in sorted(facts, key=lambda s: s.severity) for text in facts[status]]
    if not run["success"]:
        if not facts.keys() - {Status.CELLS_MISSING, Status.TAMPERED}:  # no kernel record explains it
            error = (str(run.get("error") or "").strip().splitlines() or ["unknown error"])[-1]
            facts[Status.KERNEL_DIED] = [f"autograde failed before a notebook ran: {error[:300]}"]
            reasons.insert(0, facts[Status.KERNEL_DIED][0])
        return _failed(root, sub, Status.worst(facts), "; ".join(reasons))

    autograded_dir = root / "autograded" / sub.student / sub.assignment
    status = Status.worst(facts)
    result = _read_grades(root, sub)
    result.status = status
    result.submitted_at, result.late = sub.submitted_at, sub.late
    tests = [c for c in result.cells if c.autograded]
    passed = f"{sum(c.score >= c.max_score for c in tests)}/{len(tests)} test cells passed"
    result.reason = "; ".join([*notes, *reasons, passed])
    manual = sum(c.max_score for c in result.cells if c.needs_manual_grade)
    if manual:
        result.reason += f"; {manual:g} points await manual grading"
    return Outcome(result, autograded=_read_dir(autograded_dir, ".ipynb"),
                   feedback=_feedback(root, sub, result), comments=_comments(root, sub))


def _read_grades(root: Path, sub: Submission) -> Result:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        submission = gb.find_submission(sub.assignment, sub.student)
        cells = [CellScore(nb.name, grade.name, float(grade.score), float(grade.max_score),
                           grade.auto_score, bool(grade.needs_manual_grade), _is_test(nb.notebook, grade.cell))
                 for nb in submission.notebooks for grade in nb.grades]
        return Result(sub.student, sub.assignment, float(submission.score), float(submission.max_score),
                      Status.GRADED, "", sorted(cells, key=lambda c: (c.notebook, c.grade_id)))


def _comments(root: Path, sub: Submission) -> dict[tuple[str, str], str | None]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        submission = gb.find_submission(sub.assignment, sub.student)
        return {(nb.name, c.name): c.auto_comment for nb in submission.notebooks for c in nb.comments}


def _feedback(root: Path, sub: Submission, result: Result) -> dict[str, bytes]:
    from nbgrader.converters import GenerateFeedback

    run = run_converter(GenerateFeedback, feedback_config(root), assignment_id=sub.assignment,
                        student_id=sub.student, force=True)
    folder = root / "feedback" / sub.student / sub.assignment
    if not run["success"]:
        reason = f"{result.reason} (feedback page could not be rendered)"
        page = plain_page(sub.student, sub.assignment, result.score, result.max_score, result.status, reason)
        return {name.replace(".ipynb", ".html"): page for name in _notebook_names(root, sub.assignment)}
    return {name: with_banner(data, result.status, result.reason, result.late) for name, data in _read_dir(folder, ".html").items()}


def _read_dir(folder: Path, suffix: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob(f"*{suffix}"))}
