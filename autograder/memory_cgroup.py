"""One cgroup-v1 memory group per kernel: a memory limit for all of its processes together (RLIMIT_AS caps
each process alone), and the one witness of whether the OOM killer struck inside it."""
from __future__ import annotations

import os
import time
from pathlib import Path


def create(name: str, limit: int) -> Path | None:
    """A fresh memory group under ours, capped at limit bytes (no escape into swap). None where cgroup v1 memory
    is not mounted writable: then memory is bounded per process only."""
    try:
        mount = next(line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
                     if line.split()[2] == "cgroup" and "memory" in line.split()[3].split(","))
        ours = next(line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
                    if "memory" in line.split(":", 2)[1].split(","))
        group = Path(mount) / ours.lstrip("/") / name
        group.mkdir(exist_ok=True)
        (group / "memory.limit_in_bytes").write_text(str(limit))
        if (group / "memory.memsw.limit_in_bytes").exists():
            (group / "memory.memsw.limit_in_bytes").write_text(str(limit))
        return group
    except (StopIteration, OSError):
        return None


def release(group: Path) -> bool:
    """Remove an emptied group; whether its OOM killer struck."""
    oom = "oom_kill 0" not in (group / "memory.oom_control").read_text()
    for _ in range(50):
        try:
            group.rmdir()
            break
        except OSError:  # the last processes are still exiting
            time.sleep(0.02)
    return oom


def available() -> bool:
    """Whether this machine lets the grader create memory groups."""
    probe = create(f"losslab-sandbox-probe-{os.getpid()}", 1 << 30)
    if probe is not None:
        release(probe)
    return probe is not None
