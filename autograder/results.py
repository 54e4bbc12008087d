"""What grading one submission produces: plain dataclasses that travel between Dask workers and the coordinator."""
from __future__ import annotations

from dataclasses import dataclass, field

#: What can go wrong with a submission, the most severe first: when several apply, the grade names the first.
SEVERITY = ("unreadable", "missing", "timed_out", "out_of_memory", "disk_full", "kernel_died", "cells_missing",
            "tampered")
#: Every submission ends in exactly one of these.
STATUSES = ("graded", *SEVERITY)


@dataclass
class CellScore:
    """One graded cell of one submitted notebook, as nbgrader's gradebook holds it."""
    notebook: str
    grade_id: str
    score: float
    max_score: float
    auto_score: float | None
    needs_manual_grade: bool
    autograded: bool  # a test cell (True) or a manually graded answer (False)


@dataclass
class Result:
    """A submission's grade and the reason for it: one row of grades.csv."""
    student: str
    assignment: str
    score: float
    max_score: float
    status: str
    reason: str
    cells: list[CellScore] = field(default_factory=list)
    seconds: float = 0.0
    flags: list[str] = field(default_factory=list)  # for a person to read (autograder.flags); the score ignores them


@dataclass
class Submission:
    """The files a student handed in for one assignment (empty when nothing was handed in)."""
    student: str
    assignment: str
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Outcome:
    """A worker's whole answer: the result, the files it wrote, and the comments to merge into the gradebook."""
    result: Result
    autograded: dict[str, bytes] = field(default_factory=dict)  # <notebook>.ipynb -> content
    feedback: dict[str, bytes] = field(default_factory=dict)  # <notebook>.html -> content
    comments: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (notebook, cell) -> auto comment
