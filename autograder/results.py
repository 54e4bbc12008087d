"""What grading one submission produces: plain dataclasses that travel between Dask workers and the coordinator."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """How a submission's grading ended: every submission ends in exactly one.

    Declared from the most severe to none: when several apply, the grade names the most severe. The values are
    what grades.csv, the report and the feedback pages show (a Status compares equal to its value)."""

    UNREADABLE = "unreadable"        # not JSON or not a notebook: 0
    MISSING = "missing"              # nothing handed in: 0
    TIMED_OUT = "timed_out"          # a cell, the notebook or its CPU time ran past its limit
    OUT_OF_MEMORY = "out_of_memory"
    DISK_FULL = "disk_full"          # it filled its disk space
    KERNEL_DIED = "kernel_died"
    CELLS_MISSING = "cells_missing"  # a graded cell deleted or renamed: restored and graded
    TAMPERED = "tampered"            # a test cell edited: restored and graded
    GRADED = "graded"                # nothing went wrong

    @property
    def severity(self) -> int:
        """0 for the most severe; GRADED has the highest."""
        return list(Status).index(self)

    @classmethod
    def worst(cls, statuses: Iterable[Status]) -> Status:
        """The most severe of statuses; GRADED when there are none."""
        return min(statuses, key=lambda s: s.severity, default=cls.GRADED)


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
    status: Status
    reason: str
    cells: list[CellScore] = field(default_factory=list)
    seconds: float = 0.0
    flags: list[str] = field(default_factory=list)  # for a person to read (autograder.flags); the score ignores them
    submitted_at: str = ""  # when it was handed in, ISO 8601 UTC ("" unknown)
    late: str = ""  # why it counts as late, for a person ("" on time or unknown)


@dataclass
class Submission:
    """The files a student handed in for one assignment (empty when nothing was handed in)."""
    student: str
    assignment: str
    files: dict[str, bytes] = field(default_factory=dict)
    submitted_at: str = ""
    late: str = ""


@dataclass
class Outcome:
    """A worker's whole answer: the result, the files it wrote, and the comments to merge into the gradebook."""
    result: Result
    autograded: dict[str, bytes] = field(default_factory=dict)  # <notebook>.ipynb -> content
    feedback: dict[str, bytes] = field(default_factory=dict)  # <notebook>.html -> content
    comments: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (notebook, cell) -> auto comment
