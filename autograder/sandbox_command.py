"""The command line that starts a kernel inside bubblewrap, setpriv and prlimit, and the clean environment it
gets: what the kernel can see, write and use, decided before it starts."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .limits import Limits

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
#: Inside the sandbox: the bounded tmpfs holding the kernel's working folder and /tmp (and /dev/shm its own) and
#: where the kernel-side bridge module (`autograder.bridge`, with nothing else of the grader) is found.
DISK, WORK, BRIDGE_DIR = "/tmp", "/tmp/.work", "/lsbx"
_PASS_ENV = ("NBGRADER_EXECUTION", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED", "TF_ENABLE_ONEDNN_OPTS",
             "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "TZ", "LANG", "LC_ALL")
_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Layout:
    """Where one kernel runs: its isolation mode, uid, folders, and the student kernel it may reach (verdict)."""

    isolation: str                 # see isolation.mode()
    uid: int                       # the throwaway uid it runs as; -1: it keeps ours
    cwd: Path                      # the notebook's folder on the host (never mounted: its files are shown)
    runtime: Path                  # its private folder: connection file and ipc sockets
    blank: Path                    # an empty file shown in place of every notebook (they hold the hidden tests)
    peer_runtime: Path | None      # the student kernel's runtime folder, for a verdict kernel
    extra_ro_paths: tuple[str, ...] = ()


def disk_sizes(limits: Limits) -> tuple[int, int]:
    """(bytes of the folder + /tmp tmpfs, bytes of /dev/shm): disk_mb together, shared memory a small part."""
    shm = min(64, limits.disk_mb // 8) << 20
    return (limits.disk_mb << 20) - shm, shm


def environment(parent: Mapping[str, str], layout: Layout, peer_info: dict[str, Any] | None) -> dict[str, str]:
    """A clean environment: nothing of the grader's (tokens, paths) leaks into student code."""
    env = {k: parent[k] for k in _PASS_ENV if k in parent}
    env.update(PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", HOME=str(layout.cwd),
               MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2", MPLCONFIGDIR="/tmp/mpl", IPYTHONDIR="/tmp/ipython",
               PYTHONDONTWRITEBYTECODE="1")
    env.setdefault("LANG", "C.UTF-8")
    env["PYTHONPATH"] = BRIDGE_DIR if layout.isolation in ("full", "userns") else str(_PACKAGE.parent)
    if peer_info is not None:
        from .bridge import PEER_ENV

        env[PEER_ENV] = json.dumps({**peer_info, "key": peer_info["key"].decode()})
    return env


def command(kernel_cmd: list[str], layout: Layout, limits: Limits, process_count: int = 0) -> list[str]:
    """The kernel command inside bwrap, setpriv and prlimit, as far as this machine allows. process_count: the
    tasks our uid runs already, when the kernel keeps it (RLIMIT_NPROC counts them too)."""
    if layout.isolation == "none":
        return kernel_cmd
    cmd = [*_rlimits(limits, process_count), *kernel_cmd]
    if layout.isolation == "rlimits":
        return cmd
    if layout.uid >= 0:
        cmd = ["setpriv", f"--reuid={layout.uid}", f"--regid={layout.uid}", "--clear-groups", "--inh-caps=-all",
               "--bounding-set=-all", "--no-new-privs", "--", *cmd]
    args = ["bwrap", "--die-with-parent", "--new-session", "--unsetenv", "JPY_PARENT_PID"]
    if layout.isolation == "userns":
        args += ["--unshare-all"]
    else:  # not --unshare-all: its user namespace would leave our uid unmapped for setpriv
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    for path in SYSTEM:
        args += ["--ro-bind-try", path, path]
    # One bounded tmpfs (host memory, charged to the kernel's memory cgroup) holds everything it can write:
    # /tmp, /dev/shm and its working folder; it vanishes with the sandbox. The submission's folder on the
    # host is never mounted: its files are shown read-only, the notebook masked (its restored test cells
    # hold the hidden tests).
    disk, shm = disk_sizes(limits)
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(disk),
             "--tmpfs", DISK, "--perms", "1777", "--dir", WORK, "--perms", "1777", "--size", str(shm),
             "--tmpfs", "/dev/shm"]
    for path in _readonly_paths(layout.extra_ro_paths):
        args += [*_parents(path), "--ro-bind", path, path]
    args += _parents(f"{BRIDGE_DIR}/autograder/bridge.py")
    for name in ("__init__.py", "bridge.py"):
        args += ["--ro-bind", str(_PACKAGE / name), f"{BRIDGE_DIR}/autograder/{name}"]
    args += [*_parents(str(layout.runtime)), "--bind", str(layout.runtime), str(layout.runtime)]
    if layout.peer_runtime is not None:  # the student kernel's sockets, to connect to (read-only: they still connect)
        peer = str(layout.peer_runtime)
        args += [*_parents(peer), "--ro-bind", peer, peer]
    args += [*_parents(str(layout.cwd)), "--symlink", WORK, str(layout.cwd)]
    for entry in sorted(layout.cwd.iterdir()):
        shown = layout.blank if entry.suffix == ".ipynb" else entry
        if entry.is_file() or entry.is_dir():
            args += ["--ro-bind", str(shown), f"{WORK}/{entry.name}"]
    return [*args, "--chdir", WORK, "--", *cmd]


def _rlimits(limits: Limits, process_count: int) -> list[str]:
    return ["prlimit", f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 5}", f"--as={limits.memory_mb << 20}",
            f"--nproc={limits.max_processes + process_count}", f"--fsize={limits.file_mb << 20}", "--core=0", "--"]


def _readonly_paths(extra: tuple[str, ...]) -> list[str]:
    """The Python install, the venv and the losslab package, deduplicated (a path inside another is dropped)."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), *map(os.path.realpath, extra)}
    spec = importlib.util.find_spec("losslab")
    if spec is not None and spec.submodule_search_locations:
        paths.update(os.path.realpath(p) for p in spec.submodule_search_locations)
    system = tuple(p + "/" for p in SYSTEM)
    paths = {p for p in paths if not (p + "/").startswith(system)}
    keep = sorted(paths)
    return [p for p in keep if not any(p != q and p.startswith(q + "/") for q in keep)]


def _parents(path: str) -> list[str]:
    """bwrap makes missing parents 0700, which a dropped uid cannot cross: make them 0755 first."""
    out: list[str] = []
    parts = Path(path).parts[1:-1]
    for i in range(len(parts)):
        parent = "/" + "/".join(parts[: i + 1])
        if parent not in ("/tmp", *SYSTEM):
            out += ["--perms", "0755", "--dir", parent]
    return out
