"""Throwaway uids, one per live kernel, so that RLIMIT_NPROC counts only that kernel's processes and every
process it left behind can be found and killed by uid."""
from __future__ import annotations

import fcntl
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

UID_BASE, UID_SLOTS = 2_000_000, 4096
_LOCKS = Path(tempfile.gettempdir()) / "losslab-sandbox-uids"


def take() -> tuple[int, int]:
    """(a uid no other live kernel holds, the lock's fd): the flock dies with this process, so a crash frees it."""
    _LOCKS.mkdir(mode=0o700, exist_ok=True)
    start = (os.getpid() * 7 + threading.get_ident()) % UID_SLOTS
    for i in range(UID_SLOTS):
        slot = (start + i) % UID_SLOTS
        fd = os.open(_LOCKS / str(slot), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return UID_BASE + slot, fd
    raise RuntimeError("no free sandbox uid")


def pids(uid: int) -> list[int]:
    """The processes running as uid."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(entry.path).st_uid == uid:
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


def count_tasks(uid: int) -> int:
    """Tasks (processes and threads, as RLIMIT_NPROC counts them) of this uid."""
    return sum(len(os.listdir(f"/proc/{pid}/task")) for pid in pids(uid) if os.path.isdir(f"/proc/{pid}/task"))


def kill_all(uid: int) -> None:
    """Belt and braces: the pid namespace already took every process down with the kernel."""
    for _ in range(50):
        found = pids(uid)
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
