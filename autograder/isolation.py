"""How far this machine can isolate student code: the mode every kernel starts in, and the words that tell an
instructor what it means and what to install."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import asdict

from . import memory_cgroup
from .limits import Limits


@functools.lru_cache(maxsize=None)
def mode() -> str:
    """'full' (root + bwrap), 'userns' (bwrap without root: no uid drop), 'rlimits' (no namespaces at all) or
    'none' (not even prlimit)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None or shutil.which("prlimit") is None:
        return "rlimits" if shutil.which("prlimit") else "none"
    probe = [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--", "true"]
    if os.geteuid() != 0:
        probe[1:1] = ["--unshare-user"]
    ok = subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    if not ok:
        return "rlimits"
    return "full" if os.geteuid() == 0 and shutil.which("setpriv") else "userns"


def isolation_report(limits: Limits | None = None) -> str:
    """What isolation this machine gives student code, in words an instructor can act on."""
    limits = limits or Limits()
    current = mode()
    lines = {
        "full": ["isolation: FULL - bubblewrap namespaces (mount, pid, net, ipc, uts), throwaway unprivileged uid,",
                 "  no network, only the notebook's own folder visible and writable, rlimits and a memory cgroup"],
        "userns": ["WARNING: NOT ROOT - bubblewrap namespaces work, but student code keeps YOUR uid and the process",
                   "  limit counts all of your processes. Run the grader as root (or in CI) for full isolation."],
        "rlimits": ["WARNING: NO SANDBOX - bubblewrap or user namespaces are unavailable: student code runs AS YOU,",
                    "  can read the gradebook and your files and reach the network. Only rlimits are applied.",
                    "  Install bubblewrap (apt-get install bubblewrap) and run as root for isolation."],
        "none": ["WARNING: NO SANDBOX AND NO RLIMITS - neither bubblewrap nor prlimit is installed: student code runs",
                 "  AS YOU with only the grader-side wall, cell and output limits. Install bubblewrap and util-linux."],
    }[current]
    if current == "full" and not memory_cgroup.available():
        lines.append("  note: no writable cgroup-v1 memory controller: memory is capped per process (RLIMIT_AS) only")
    shown = ", ".join(f"{k}={v}" for k, v in asdict(limits).items())
    return "\n".join([*lines, f"limits: {shown}"])
