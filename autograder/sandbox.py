"""Run one submission's kernel isolated and bounded.

nbgrader runs student code as the grader, beside the gradebook, without limits. Here every kernel starts inside
bubblewrap: fresh mount/pid/net/ipc/uts namespaces in which only the system, the Python install, the venv, the
`losslab` package (all read-only) and the notebook's own folder (writable; the notebook itself masked, since its
restored cells hold the hidden tests) exist; as a throwaway unprivileged uid; under rlimits (CPU, address space,
processes, file size) and a memory cgroup for all its processes together; with ZMQ on ipc sockets, since loopback
TCP does not cross a network namespace. The grader side bounds wall time, cell time and output size, and records
how the kernel ended so the pipeline can tell a timeout from an OOM from a crash (see `findings`).
"""
from __future__ import annotations

import fcntl
import functools
import importlib.util
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, List, Unicode, default
from traitlets.config import Config

#: Where the grader-side record of each kernel goes, relative to the workdir given to `apply`.
RECORD_NAME = ".sandbox-record.jsonl"
#: Throwaway uids, one per live kernel (held by an flock), so RLIMIT_NPROC counts only that kernel's processes.
UID_BASE, UID_SLOTS = 2_000_000, 4096
_LOCKS = Path(tempfile.gettempdir()) / "losslab-sandbox-uids"
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
_PASS_ENV = ("NBGRADER_EXECUTION", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED", "TF_ENABLE_ONEDNN_OPTS",
             "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "TZ", "LANG", "LC_ALL")
#: Inside the sandbox: the bounded tmpfs holding the kernel's working folder and /tmp (and /dev/shm its own) and
#: where the kernel-side bridge module (`autograder.bridge`, with nothing else of the grader) is found.
_DISK, _WORK, _BRIDGE_DIR = "/tmp", "/tmp/.work", "/lsbx"
_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Defaults fit the course's assignments with room to spare on 2 cores."""

    cpu_seconds: int = 600        # CPU time of each kernel process (RLIMIT_CPU): SIGXCPU, SIGKILL 5 s later
    memory_mb: int = 4096         # address space per process (RLIMIT_AS); TensorFlow alone maps ~2.4 GB
    wall_seconds: int = 900       # one notebook, kernel start to shutdown; the kernel is killed past it
    cell_timeout: int = 120       # one cell; then the kernel is interrupted and the next cell runs
    output_bytes: int = 1_000_000  # output kept per cell; the rest is dropped while it streams in
    max_processes: int = 256      # processes + threads of the kernel's uid (RLIMIT_NPROC); TF starts ~60 threads
    file_mb: int = 256            # largest file the kernel may write (RLIMIT_FSIZE)
    disk_mb: int = 512            # everything the kernel may write, together: its folder, /tmp and /dev/shm


@functools.lru_cache(maxsize=None)
def _mode() -> str:
    """'full' (root + bwrap), 'userns' (bwrap without root: no uid drop), or 'rlimits' (no namespaces at all)."""
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
    mode = _mode()
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
    }[mode]
    if mode == "full" and not _has_memory_cgroup():
        lines.append("  note: no writable cgroup-v1 memory controller: memory is capped per process (RLIMIT_AS) only")
    shown = ", ".join(f"{k}={v}" for k, v in asdict(limits).items())
    return "\n".join([*lines, f"limits: {shown}"])


def _has_memory_cgroup() -> bool:
    probe = _memory_cgroup(f"losslab-sandbox-probe-{os.getpid()}", 1 << 30)
    if probe is not None:
        _release_cgroup(probe)
    return probe is not None


def apply(config: Config, limits: Limits | None, workdir: Path | str, verdict: bool = True) -> Path:
    """Make ONE submission's autograde run its kernels in the sandbox; returns the record file it will write.

    workdir is the submission's private course directory: the record lives there, out of the kernel's sight
    (the kernel only sees the notebook's folder, autograded/<student>/<assignment>). verdict=True runs the test
    cells in a second kernel (`autograder.verdict`); False, all in the student's kernel, is kept for
    benchmarks/bench_grading.py to measure what the second kernel costs."""
    from .verdict import VerdictExecute

    limits = limits or Limits()
    executor = VerdictExecute if verdict else SandboxedExecute
    record = Path(workdir) / RECORD_NAME
    record.unlink(missing_ok=True)
    from nbgrader.converters import Autograde

    stock = Autograde.class_traits()["autograde_preprocessors"].default()
    current = config.Autograde.get("autograde_preprocessors", stock)
    config.Autograde.autograde_preprocessors = [executor if p is Execute else p for p in current]
    config.Execute.kernel_manager_class = SandboxedKernelManager
    config.Execute.timeout = limits.cell_timeout
    config.Execute.interrupt_on_timeout = True
    config.Execute.raise_on_iopub_timeout = False
    config.SandboxedExecute.output_bytes = limits.output_bytes
    config.SandboxedExecute.record_path = str(record)
    for name in ("cpu_seconds", "memory_mb", "wall_seconds", "max_processes", "file_mb", "disk_mb"):
        setattr(config.SandboxedKernelManager, name, getattr(limits, name))
    return record


@dataclass
class KernelRecord:
    """How one notebook's kernel ran, seen from the grader side: student code cannot forge how the kernel ended
    (returncode, died, wall_exceeded, timed_out); memory_errors is read from error outputs, which it can."""

    notebook: str = ""
    isolation: str = ""
    returncode: int | None = None   # of bwrap: the kernel's exit code, 128+N for signal N (so os._exit(137)
                                    # reads as SIGKILL), <0 if bwrap itself was killed (shutdown, wall limit)
    died: bool = False              # ended before the grader asked it to
    died_in: str | None = None      # the cell running when it died
    wall_exceeded: bool = False
    oom_killed: bool = False        # the kernel's memory cgroup hit memory_mb and the OOM killer struck
    disk_full: bool = False         # it filled its disk (disk_mb), seen from the grader side
    timed_out: list[str] | None = None       # cells interrupted at the cell time limit
    memory_errors: list[str] | None = None   # cells whose error says an allocation failed
    truncated: list[str] | None = None       # cells whose output was cut at output_bytes

    @property
    def signal(self) -> int | None:
        """The signal that ended the kernel, when one did."""
        rc = self.returncode
        if rc is None:
            return None
        return -rc if rc < 0 else (rc - 128 if rc > 128 else None)


def read_records(workdir: Path | str) -> list[KernelRecord]:
    """Every kernel record of one submission's autograde (one per notebook), oldest first."""
    path = Path(workdir) / RECORD_NAME
    if not path.exists():
        return []
    return [KernelRecord(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def findings(workdir: Path | str) -> list[tuple[str, str]]:
    """(status, reason) pairs in the pipeline's vocabulary, read from the kernel records."""
    out: list[tuple[str, str]] = []
    for r in read_records(workdir):
        where = f" in {r.died_in}" if r.died_in else ""
        sig = r.signal
        if r.oom_killed:
            out.append(("out_of_memory", f"{r.notebook}: the sandbox's processes together passed the memory limit"
                                         f"{where}; the OOM killer ended one"))
        if r.wall_exceeded:
            out.append(("timed_out", f"{r.notebook}: notebook ran past its wall-clock limit{where}, kernel killed"))
        elif r.died and sig == signal.SIGXCPU:
            out.append(("timed_out", f"{r.notebook}: CPU-time limit reached{where}, kernel killed"))
        elif r.died and sig == signal.SIGKILL and not r.oom_killed:
            # Past RLIMIT_AS an allocation fails with MemoryError; a SIGKILL is the host's OOM killer (or the CPU
            # limit's hard stop, when student code caught SIGXCPU).
            out.append(("out_of_memory", f"{r.notebook}: kernel killed (SIGKILL){where}: out of memory"))
        elif r.died:
            how = f"signal {signal.Signals(sig).name}" if sig else f"exit code {r.returncode}"
            out.append(("kernel_died", f"{r.notebook}: kernel died ({how}){where}; later cells not run"))
        if r.disk_full:
            out.append(("disk_full", f"{r.notebook}: the submission filled its disk space (its folder and /tmp "
                                     f"together){where}"))
        if r.timed_out:
            out.append(("timed_out", f"{r.notebook}: cell time limit hit in {', '.join(r.timed_out)}"))
        if r.memory_errors:
            out.append(("out_of_memory", f"{r.notebook}: memory limit hit in {', '.join(r.memory_errors)}"))
    return out


def _label(cell: NotebookNode, index: int) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"


def _out_size(msg: dict[str, Any]) -> int:
    content = msg.get("content", {})
    if msg["msg_type"] == "stream":
        return len(content.get("text", ""))
    if msg["msg_type"] == "error":
        return len(content.get("evalue", "")) + sum(len(t) for t in content.get("traceback", []))
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in content.get("data", {}).values())


class SandboxedExecute(Execute):
    """nbgrader's Execute that caps output as it streams in, survives a dying kernel and records what happened."""

    output_bytes = Integer(1_000_000, help="Output kept per cell (bytes of text); the rest is dropped.").tag(config=True)
    record_path = Unicode("", help="JSON-lines file receiving one KernelRecord per notebook.").tag(config=True)

    @default("skip_cells_with_tag")
    def _no_cell_is_skipped(self) -> str:
        """Every cell runs in grading: nbclient skips cells tagged "skip-execution", and a student who tags a test
        cell so (tags are not checksummed) would have it pass without running. No submission can carry this tag."""
        return f"lsbx-never-skipped-{secrets.token_hex(16)}"

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        self._record = KernelRecord(notebook=Path((resources or {}).get("metadata", {}).get("name", "?")).name,
                                    timed_out=[], memory_errors=[], truncated=[])
        self._sizes: dict[int, int] = {}
        self._km_ref: SandboxedKernelManager | None = None
        self._current = ""
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self._write_record()

    def create_kernel_manager(self) -> Any:
        km = super().create_kernel_manager()
        self._km_ref = km if isinstance(km, SandboxedKernelManager) else None
        return km

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        self._current = _label(cell, index)
        if self._record.died:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [_error("KernelDied", "not run: the kernel died in an earlier cell")]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._record.died, self._record.died_in = True, _label(cell, index)
            cell.outputs.append(_error("KernelDied", "the kernel died while running this cell"))
        except CellTimeoutError:  # output still streaming in past the deadline (raise_on_iopub_timeout)
            self._record.timed_out.append(_label(cell, index))
            cell.outputs.append(_error("CellTimeoutError", "cell output still arriving at the time limit"))
        if self._km_ref is not None:
            self._km_ref.disk_used()
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and "No space left on device" in str(out.get("evalue", "")):
                self._record.disk_full = True
            if out.get("output_type") == "error" and _is_memory_error(out):
                self._record.memory_errors.append(_label(cell, index))
                break
        return cell, resources

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None) -> Any:
        self._record.timed_out.append(self._current)
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> NotebookNode | None:
        used = self._sizes.get(cell_index, 0)
        size = _out_size(msg)
        self._sizes[cell_index] = used + size
        if used + size <= self.output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if msg["msg_type"] == "error":  # never dropped: an error is what makes a test cell score 0
            content = msg["content"]
            short = {**content, "evalue": content.get("evalue", "")[:1000], "traceback": content["traceback"][-20:]}
            return super().output(outs, {**msg, "content": short}, display_id, cell_index)
        if used > self.output_bytes:
            return None  # already cut: drop without a trace
        self._sizes[cell_index] = self.output_bytes + 1
        self._record.truncated.append(_label(self.nb.cells[cell_index], cell_index))
        if msg["msg_type"] == "stream":
            msg = {**msg, "content": {**msg["content"], "text": msg["content"]["text"][: self.output_bytes - used]}}
            super().output(outs, msg, display_id, cell_index)
        name = msg["content"].get("name", "stdout") if msg["msg_type"] == "stream" else "stdout"
        note = NotebookNode(output_type="stream", name=name,  # the pipeline drops stderr, so a cut stdout says so
                            text=f"\n[output cut by the grader at {self.output_bytes} bytes]\n")
        outs.append(note)
        return note

    def _write_record(self) -> None:
        km = self._km_ref
        if km is not None:
            self._record.isolation, self._record.returncode = km.isolation, km.returncode
            self._record.wall_exceeded, self._record.oom_killed = km.wall_exceeded, km.oom_killed
            self._record.died = self._record.died or km.died
            self._record.disk_full = self._record.disk_full or km.disk_full
        if self.record_path:
            with open(self.record_path, "a") as fh:
                fh.write(json.dumps(asdict(self._record)) + "\n")


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _is_memory_error(out: NotebookNode) -> bool:
    text = f"{out.get('ename', '')} {out.get('evalue', '')}".lower()
    return "memoryerror" in text or "can't allocate memory" in text or "cannot allocate memory" in text


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the ipykernel inside bwrap + setpriv + prlimit, talking ZMQ over ipc sockets in a private folder."""

    cpu_seconds = Integer(Limits.cpu_seconds).tag(config=True)
    memory_mb = Integer(Limits.memory_mb).tag(config=True)
    wall_seconds = Integer(Limits.wall_seconds).tag(config=True)
    max_processes = Integer(Limits.max_processes).tag(config=True)
    file_mb = Integer(Limits.file_mb).tag(config=True)
    disk_mb = Integer(Limits.disk_mb).tag(config=True)
    extra_ro_paths = List(Unicode(), help="More read-only paths the kernel may see (e.g. a data folder).").tag(
        config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.isolation = _mode()
        self.returncode: int | None = None
        self.died = False
        self.wall_exceeded = False
        self.oom_killed = False
        self._cgroup: Path | None = None
        self._popen: subprocess.Popen | None = None
        self._shutdown_asked = False
        self._timer: threading.Timer | None = None
        self._uid, self._uid_lock = -1, None
        self._runtime = Path(tempfile.mkdtemp(prefix="lsbx-"))  # short: a unix socket path has <108 bytes
        self._blank = self._runtime.with_name(self._runtime.name + ".blank")  # shown in place of the notebook
        self._blank.touch(0o444)
        self._cwd: Path | None = None
        self.peer: SandboxedKernelManager | None = None  # the student kernel, for a verdict kernel
        self.disk_peak = 0  # bytes the kernel had written, at most, when last looked at (see disk_used)
        self.transport = "ipc"
        self.ip = str(self._runtime / "k")
        self.connection_file = str(self._runtime / "kernel.json")

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        if self._uid >= 0:
            os.chown(self._runtime, self._uid, self._uid)
            os.chown(self.connection_file, self._uid, self._uid)

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        if self.isolation == "full":
            self._uid, self._uid_lock = _take_uid()
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        cwd = Path(kw.get("cwd") or os.getcwd()).resolve()
        if cwd == Path("/") or (cwd / "gradebook.db").exists():
            raise RuntimeError(f"refusing to expose {cwd} to student code: run the notebook from its own folder")
        self._cwd = cwd
        kw["env"] = self._env(cwd, kw.get("env") or os.environ)
        kw["stdout"] = subprocess.DEVNULL  # the kernel's banner; what students print goes over ZMQ
        cmd = self._wrap(kernel_cmd, cwd)
        if self._uid >= 0:
            self._cgroup = _memory_cgroup(f"losslab-sandbox-{self._uid}", self.memory_mb << 20)
        if self._cgroup is not None:  # the shell joins the cgroup, then becomes bwrap: nothing starts outside it
            cmd = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self._cgroup / "cgroup.procs"), *cmd]
        await super()._async_launch_kernel(cmd, **kw)
        self._popen = self.provisioner.process  # type: ignore[union-attr]
        self._timer = threading.Timer(self.wall_seconds, self._kill_for_wall)
        self._timer.daemon = True
        self._timer.start()

    def _env(self, cwd: Path, parent: Any) -> dict[str, str]:
        """A clean environment: nothing of the grader's (tokens, paths) leaks into student code."""
        env = {k: parent[k] for k in _PASS_ENV if k in parent}
        env.update(PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", HOME=str(cwd),
                   MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2", MPLCONFIGDIR="/tmp/mpl", IPYTHONDIR="/tmp/ipython",
                   PYTHONDONTWRITEBYTECODE="1")
        env.setdefault("LANG", "C.UTF-8")
        env["PYTHONPATH"] = _BRIDGE_DIR if self.isolation in ("full", "userns") else str(_PACKAGE.parent)
        if self.peer is not None:
            from .bridge import PEER_ENV

            info = self.peer.get_connection_info()
            env[PEER_ENV] = json.dumps({**info, "key": info["key"].decode()})
        return env

    def open_to_peer(self) -> None:
        """Let a verdict kernel (another uid) connect to this kernel's sockets; what it sends back is data."""
        if self._uid >= 0:
            os.chmod(self._runtime, 0o711)
            for sock in self._runtime.iterdir():
                if stat.S_ISSOCK(sock.lstat().st_mode):
                    os.chmod(sock, 0o666)

    def disk_used(self) -> int:
        """Bytes in the kernel's tmpfs now (read through a live kernel process), and remember the peak."""
        if self._uid < 0:
            return 0
        for pid in _uid_pids(self._uid):
            try:
                st = os.statvfs(f"/proc/{pid}/root{_DISK}")
            except OSError:
                continue
            self.disk_peak = max(self.disk_peak, (st.f_blocks - st.f_bfree) * st.f_frsize)
            break
        return self.disk_peak

    @property
    def disk_full(self) -> bool:
        """The kernel filled (all but 1 % of) its disk: what it wrote, not the grader, decides the grade then."""
        return self.disk_peak >= self._disk_sizes()[0] * 0.99

    def _disk_sizes(self) -> tuple[int, int]:
        """(bytes of the folder + /tmp tmpfs, bytes of /dev/shm): disk_mb together, shared memory a small part."""
        shm = min(64, self.disk_mb // 8) << 20
        return (self.disk_mb << 20) - shm, shm

    def _rlimits(self) -> list[str]:
        nproc = self.max_processes
        if self._uid < 0:  # the kernel keeps our uid: its process count adds to ours
            nproc += _count_processes(os.getuid())
        return ["prlimit", f"--cpu={self.cpu_seconds}:{self.cpu_seconds + 5}", f"--as={self.memory_mb << 20}",
                f"--nproc={nproc}", f"--fsize={self.file_mb << 20}", "--core=0", "--"]

    def _wrap(self, cmd: list[str], cwd: Path) -> list[str]:
        """The kernel command inside bwrap, setpriv and prlimit, as far as this machine allows."""
        if self.isolation == "none":
            return cmd
        cmd = [*self._rlimits(), *cmd]
        if self.isolation == "rlimits":
            return cmd
        if self._uid >= 0:
            cmd = ["setpriv", f"--reuid={self._uid}", f"--regid={self._uid}", "--clear-groups", "--inh-caps=-all",
                   "--bounding-set=-all", "--no-new-privs", "--", *cmd]
        args = ["bwrap", "--die-with-parent", "--new-session", "--unsetenv", "JPY_PARENT_PID"]
        if self.isolation == "userns":
            args += ["--unshare-all"]
        else:  # not --unshare-all: its user namespace would leave our uid unmapped for setpriv
            args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        for path in _SYSTEM:
            args += ["--ro-bind-try", path, path]
        # One bounded tmpfs (host memory, charged to the kernel's memory cgroup) holds everything it can write:
        # /tmp, /dev/shm and its working folder; it vanishes with the sandbox. The submission's folder on the
        # host is never mounted: its files are shown read-only, the notebook masked (its restored test cells
        # hold the hidden tests).
        disk, shm = self._disk_sizes()
        args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(disk),
                 "--tmpfs", _DISK, "--perms", "1777", "--dir", _WORK, "--perms", "1777", "--size", str(shm),
                 "--tmpfs", "/dev/shm"]
        for path in _readonly_paths(self.extra_ro_paths):
            args += [*_parents(path), "--ro-bind", path, path]
        args += _parents(f"{_BRIDGE_DIR}/autograder/bridge.py")
        for name in ("__init__.py", "bridge.py"):
            args += ["--ro-bind", str(_PACKAGE / name), f"{_BRIDGE_DIR}/autograder/{name}"]
        args += [*_parents(str(self._runtime)), "--bind", str(self._runtime), str(self._runtime)]
        if self.peer is not None:  # the student kernel's sockets, to connect to (read-only: sockets still connect)
            peer = str(self.peer._runtime)
            args += [*_parents(peer), "--ro-bind", peer, peer]
        args += [*_parents(str(cwd)), "--symlink", _WORK, str(cwd)]
        for entry in sorted(cwd.iterdir()):
            shown = self._blank if entry.suffix == ".ipynb" else entry
            if entry.is_file() or entry.is_dir():
                args += ["--ro-bind", str(shown), f"{_WORK}/{entry.name}"]
        return [*args, "--chdir", _WORK, "--", *cmd]

    def _kill_for_wall(self) -> None:
        if self._popen is not None and self._popen.poll() is None:
            self.wall_exceeded = True
            _kill_group(self._popen)

    async def _async_interrupt_kernel(self) -> None:
        """By message: SIGINT to bwrap's process group would kill bwrap, never reaching the kernel in its session."""
        self._connect_control_socket()
        self.session.send(self._control_socket, self.session.msg("interrupt_request", content={}))

    interrupt_kernel = _async_interrupt_kernel

    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        self._shutdown_asked = True
        await self._async_shutdown_kernel(now=now, restart=restart)

    async def cleanup_resources(self, restart: bool = False) -> None:
        await self._async_cleanup_resources(restart=restart)
        if not restart:
            self._finish()

    def _finish(self) -> None:
        """Kernel gone: note how it ended, leave nothing running, and hand the folder back to the grader."""
        if self._timer is not None:
            self._timer.cancel()
        if self._popen is not None:
            if self._popen.poll() is None:
                _kill_group(self._popen)
            self.returncode = self._popen.wait()
            self.died = not self._shutdown_asked or self.wall_exceeded
            self._popen = None
        if self._uid >= 0:
            _kill_uid(self._uid)
            if self._cgroup is not None:
                self.oom_killed = _release_cgroup(self._cgroup)
            os.close(self._uid_lock)  # type: ignore[arg-type]
            self._uid = -1
        if self._cwd is not None and self.isolation in ("rlimits", "none"):  # it wrote to the real folder
            _scrub_links(self._cwd)
        shutil.rmtree(self._runtime, ignore_errors=True)
        self._blank.unlink(missing_ok=True)


def _readonly_paths(extra: list[str]) -> list[str]:
    """The Python install, the venv and the losslab package, deduplicated (a path inside another is dropped)."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), *map(os.path.realpath, extra)}
    spec = importlib.util.find_spec("losslab")
    if spec is not None and spec.submodule_search_locations:
        paths.update(os.path.realpath(p) for p in spec.submodule_search_locations)
    system = tuple(p + "/" for p in _SYSTEM)
    paths = {p for p in paths if not (p + "/").startswith(system)}
    keep = sorted(paths)
    return [p for p in keep if not any(p != q and p.startswith(q + "/") for q in keep)]


def _parents(path: str) -> list[str]:
    """bwrap makes missing parents 0700, which a dropped uid cannot cross: make them 0755 first."""
    out: list[str] = []
    parts = Path(path).parts[1:-1]
    for i in range(len(parts)):
        parent = "/" + "/".join(parts[: i + 1])
        if parent not in ("/tmp", *_SYSTEM):
            out += ["--perms", "0755", "--dir", parent]
    return out


def _memory_cgroup(name: str, limit: int) -> Path | None:
    """A fresh cgroup-v1 memory group under ours, capped at limit bytes for all of the kernel's processes together
    (RLIMIT_AS caps each process alone). None where cgroup v1 memory is not mounted writable: rlimits only."""
    try:
        mount = next(line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
                     if line.split()[2] == "cgroup" and "memory" in line.split()[3].split(","))
        ours = next(line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
                    if "memory" in line.split(":", 2)[1].split(","))
        group = Path(mount) / ours.lstrip("/") / name
        group.mkdir(exist_ok=True)
        (group / "memory.limit_in_bytes").write_text(str(limit))
        if (group / "memory.memsw.limit_in_bytes").exists():  # no escape into swap
            (group / "memory.memsw.limit_in_bytes").write_text(str(limit))
        return group
    except (StopIteration, OSError):
        return None


def _release_cgroup(group: Path) -> bool:
    """Remove an emptied memory cgroup; whether its OOM killer struck."""
    oom = "oom_kill 0" not in (group / "memory.oom_control").read_text()
    for _ in range(50):
        try:
            group.rmdir()
            break
        except OSError:  # the last processes are still exiting
            time.sleep(0.02)
    return oom


def _take_uid() -> tuple[int, int]:
    """A uid no other live kernel holds; the flock dies with this process, so a crash frees it."""
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


def _scrub_links(root: Path) -> None:
    """Remove what student code may plant for the grader to write through: links, fifos, sockets, devices."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                os.unlink(path)
                if name in dirnames:
                    dirnames.remove(name)


def _kill_group(popen: subprocess.Popen) -> None:
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        popen.kill()


def _uid_pids(uid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(entry.path).st_uid == uid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _count_processes(uid: int) -> int:
    """Tasks (processes and threads, as RLIMIT_NPROC counts them) of this uid."""
    return sum(len(os.listdir(f"/proc/{pid}/task")) for pid in _uid_pids(uid) if os.path.isdir(f"/proc/{pid}/task"))


def _kill_uid(uid: int) -> None:
    """Belt and braces: the pid namespace already took every process down with the kernel."""
    for _ in range(50):
        pids = _uid_pids(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
