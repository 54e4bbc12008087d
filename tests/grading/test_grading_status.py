"""One Status type, its severity in one place, and the kernel record as the one source of why a kernel died."""
from __future__ import annotations

import csv
import io
import json
import signal

from autograder.kernel_record import KernelRecord
from autograder.results import Status


def test_statuses_keep_their_strings_and_order_by_severity() -> None:
    assert [s.value for s in Status] == ["unreadable", "missing", "timed_out", "out_of_memory", "disk_full",
                                         "kernel_died", "cells_missing", "tampered", "graded"]
    assert Status.MISSING == "missing" and json.dumps(Status.TAMPERED) == '"tampered"'
    out = io.StringIO()
    csv.writer(out).writerow([Status.GRADED])
    assert out.getvalue().strip() == "graded"  # grades.csv reads as before
    assert Status.worst([Status.TAMPERED, Status.TIMED_OUT, Status.CELLS_MISSING]) is Status.TIMED_OUT
    assert Status.worst([]) is Status.GRADED and Status.GRADED.severity == len(Status) - 1


def test_how_a_kernel_ended_decides_the_status() -> None:
    died = KernelRecord(notebook="a.ipynb", died=True, died_in="train", returncode=128 + signal.SIGSEGV)
    assert died.findings() == [(Status.KERNEL_DIED, "a.ipynb: kernel died (signal SIGSEGV) in train; later cells not run")]
    killed = KernelRecord(notebook="a.ipynb", died=True, returncode=-signal.SIGKILL)
    assert killed.findings()[0][0] is Status.OUT_OF_MEMORY
    cpu = KernelRecord(notebook="a.ipynb", died=True, returncode=128 + signal.SIGXCPU)
    assert cpu.findings()[0][0] is Status.TIMED_OUT
    assert KernelRecord(notebook="a.ipynb").findings() == []


def test_a_run_that_stopped_on_the_grader_side_is_explained_by_its_record() -> None:
    """What worker._diagnose_failure once read from nbgrader's log: the Execute step records the exception."""
    def first(kind: str, message: str = "", **kw) -> tuple[Status, str]:
        return KernelRecord(notebook="a.ipynb", failed=[kind, message], **kw).findings()[0]

    assert first("MemoryError", died_in="fit")[0] is Status.OUT_OF_MEMORY
    assert first("CellTimeoutError")[0] is Status.TIMED_OUT
    status, reason = first("RuntimeError", "Kernel didn't respond in 60 seconds")
    assert status is Status.KERNEL_DIED and reason.endswith("RuntimeError: Kernel didn't respond in 60 seconds")
    # A kernel that died says more than the exception its death raised on the grader side.
    both = KernelRecord(notebook="a.ipynb", died=True, returncode=127, failed=["DeadKernelError", "Kernel died"])
    assert [s for s, _ in both.findings()] == [Status.KERNEL_DIED] and "exit code 127" in both.findings()[0][1]
