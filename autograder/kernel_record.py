"""How each notebook's kernel ran, seen from the grader side: the one record of why a kernel died, written by
the Execute step and read back as (Status, reason) findings."""
from __future__ import annotations

import json
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .results import Status

#: Where the records of one submission's autograde go, relative to the workdir given to `sandbox.apply`.
RECORD_NAME = ".sandbox-record.jsonl"
_TIMEOUTS = ("TimeoutError", "CellTimeoutError", "UnresponsiveKernelError")


@dataclass
class KernelRecord:
    """How one notebook's kernel ran. Student code cannot forge how the kernel ended (returncode, died,
    wall_exceeded, oom_killed, disk_full, timed_out, failed); memory_errors is read from error outputs, which it can."""

    notebook: str = ""
    isolation: str = ""
    returncode: int | None = None   # of bwrap: the kernel's exit code, 128+N for signal N (so os._exit(137)
                                    # reads as SIGKILL), <0 if bwrap itself was killed (shutdown, wall limit)
    died: bool = False              # ended before the grader asked it to
    died_in: str | None = None      # the cell running when it died (or when the run stopped)
    wall_exceeded: bool = False
    oom_killed: bool = False        # the kernel's memory cgroup hit memory_mb and the OOM killer struck
    disk_full: bool = False         # it filled its disk (disk_mb)
    timed_out: list[str] = field(default_factory=list)      # cells interrupted at the cell time limit
    memory_errors: list[str] = field(default_factory=list)  # cells whose error says an allocation failed
    truncated: list[str] = field(default_factory=list)      # cells whose output was cut at output_bytes
    failed: list[str] | None = None  # [exception type, message]: what stopped the notebook's run on the grader side

    @property
    def signal(self) -> int | None:
        """The signal that ended the kernel, when one did."""
        rc = self.returncode
        if rc is None:
            return None
        return -rc if rc < 0 else (rc - 128 if rc > 128 else None)

    def findings(self) -> list[tuple[Status, str]]:
        """(status, reason) for everything that went wrong, in words a student and an instructor can act on."""
        out: list[tuple[Status, str]] = []
        nb, where, sig = self.notebook, f" in {self.died_in}" if self.died_in else "", self.signal
        if self.oom_killed:
            out.append((Status.OUT_OF_MEMORY, f"{nb}: the sandbox's processes together passed the memory limit"
                                              f"{where}; the OOM killer ended one"))
        if self.wall_exceeded:
            out.append((Status.TIMED_OUT, f"{nb}: notebook ran past its wall-clock limit{where}, kernel killed"))
        elif self.died and sig == signal.SIGXCPU:
            out.append((Status.TIMED_OUT, f"{nb}: CPU-time limit reached{where}, kernel killed"))
        elif self.died and sig == signal.SIGKILL and not self.oom_killed:
            # Past RLIMIT_AS an allocation fails with MemoryError; a SIGKILL is the host's OOM killer (or the CPU
            # limit's hard stop, when student code caught SIGXCPU).
            out.append((Status.OUT_OF_MEMORY, f"{nb}: kernel killed (SIGKILL){where}: out of memory"))
        elif self.died:
            how = f"signal {signal.Signals(sig).name}" if sig else f"exit code {self.returncode}"
            out.append((Status.KERNEL_DIED, f"{nb}: kernel died ({how}){where}; later cells not run"))
        if self.disk_full:
            out.append((Status.DISK_FULL, f"{nb}: the submission filled its disk space (its folder and /tmp "
                                          f"together){where}"))
        if self.timed_out:
            out.append((Status.TIMED_OUT, f"{nb}: cell time limit hit in {', '.join(self.timed_out)}"))
        if self.memory_errors:
            out.append((Status.OUT_OF_MEMORY, f"{nb}: memory limit hit in {', '.join(self.memory_errors)}"))
        if self.failed and not out:
            out.append(self._failure())
        return out

    def _failure(self) -> tuple[Status, str]:
        """Why the run stopped when the kernel itself says nothing (it never started, stopped answering, ...)."""
        kind, message = (self.failed + ["", ""])[:2]
        where = f" while running {self.died_in}" if self.died_in else ""
        if kind == "MemoryError":
            return Status.OUT_OF_MEMORY, f"{self.notebook}: out of memory{where}"
        if kind in _TIMEOUTS:
            return Status.TIMED_OUT, f"{self.notebook}: kernel stopped responding{where} (cell time limit)"
        return Status.KERNEL_DIED, f"{self.notebook}: the notebook could not run{where}: {kind}: {message}"[:600]


def write(record: KernelRecord, path: Path | str) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(asdict(record)) + "\n")


def read_records(workdir: Path | str) -> list[KernelRecord]:
    """Every kernel record of one submission's autograde (one per notebook), oldest first."""
    path = Path(workdir) / RECORD_NAME
    if not path.exists():
        return []
    return [KernelRecord(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def findings(workdir: Path | str) -> list[tuple[Status, str]]:
    """(status, reason) pairs of every kernel of one submission's autograde."""
    return [finding for record in read_records(workdir) for finding in record.findings()]
