"""Start, watch and clean up one sandboxed kernel, through jupyter_client's kernel provisioner API.

`SandboxProvisioner` is jupyter_client's LocalProvisioner with the kernel's command wrapped (`sandbox_command`),
a throwaway uid and a memory cgroup taken before launch, a wall-clock timer after it, and, when the kernel is
gone, how it ended noted (returncode, died, wall_exceeded, oom_killed, disk_full) and everything it left behind
removed. `SandboxedKernelManager` only hands its kernels to that provisioner.
"""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Instance, List, Unicode

from . import isolation, kernel_uid, memory_cgroup
from .limits import Limits
from .sandbox_command import DISK, Layout, command, disk_sizes, environment


class SandboxProvisioner(LocalProvisioner):
    """LocalProvisioner whose kernel runs inside bwrap + setpriv + prlimit, on ipc sockets in a private folder."""

    limits = Instance(Limits, args=(), help="What the kernel may use (autograder.limits.Limits).").tag(config=True)
    extra_ro_paths = List(Unicode(), help="More read-only paths the kernel may see (e.g. a data folder).").tag(
        config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.isolation = isolation.mode()
        self.returncode: int | None = None
        self.died = False
        self.wall_exceeded = False
        self.oom_killed = False
        self.disk_peak = 0  # bytes the kernel had written, at most, when last looked at (see disk_used)
        self.peer: SandboxProvisioner | None = None  # the student kernel, for a verdict kernel
        self.runtime = Path(tempfile.mkdtemp(prefix="lsbx-"))  # short: a unix socket path has <108 bytes
        self._blank = self.runtime.with_name(self.runtime.name + ".blank")  # shown in place of the notebook
        self._blank.touch(0o444)
        self._uid, self._uid_lock = -1, -1
        self._cgroup: Path | None = None
        self._cwd: Path | None = None
        self._launched = self._asked = False
        self._timer: threading.Timer | None = None

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Take a uid, point the manager at ipc sockets in the private folder, and wrap the kernel's command."""
        cwd = Path(kwargs.get("cwd") or os.getcwd()).resolve()
        if cwd == Path("/") or (cwd / "gradebook.db").exists():
            raise RuntimeError(f"refusing to expose {cwd} to student code: run the notebook from its own folder")
        self._cwd = cwd
        km = self.parent
        km.transport, km.ip = "ipc", str(self.runtime / "k")
        km.connection_file = str(self.runtime / "kernel.json")
        # SIGINT to bwrap's process group would kill bwrap, never reaching the kernel in its own session.
        self.kernel_spec.interrupt_mode = "message"
        if self.isolation == "full":
            self._uid, self._uid_lock = kernel_uid.take()
        kwargs = await super().pre_launch(**kwargs)  # writes the connection file, builds the command
        if self._uid >= 0:
            os.chown(self.runtime, self._uid, self._uid)
            os.chown(km.connection_file, self._uid, self._uid)
        layout = Layout(self.isolation, self._uid, cwd, self.runtime, self._blank,
                        self.peer.runtime if self.peer is not None else None, tuple(self.extra_ro_paths))
        peer_info = self.peer.parent.get_connection_info() if self.peer is not None else None
        kwargs["env"] = environment(kwargs["env"], layout, peer_info)
        kwargs["stdout"] = subprocess.DEVNULL  # the kernel's banner; what students print goes over ZMQ
        cmd = command(kwargs["cmd"], layout, self.limits,
                      kernel_uid.count_tasks(os.getuid()) if self._uid < 0 else 0)
        if self._uid >= 0:
            self._cgroup = memory_cgroup.create(f"losslab-sandbox-{self._uid}", self.limits.memory_mb << 20)
        if self._cgroup is not None:  # the shell joins the cgroup, then becomes bwrap: nothing starts outside it
            cmd = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self._cgroup / "cgroup.procs"), *cmd]
        kwargs["cmd"] = cmd
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        info = await super().launch_kernel(cmd, **kwargs)
        self._launched = True
        self._timer = threading.Timer(self.limits.wall_seconds, self._kill_for_wall)
        self._timer.daemon = True
        self._timer.start()
        return info

    def _kill_for_wall(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.wall_exceeded = True
            _kill_group(self.process)

    async def shutdown_requested(self, restart: bool = False) -> None:
        self._asked = True
        await super().shutdown_requested(restart=restart)

    async def kill(self, restart: bool = False) -> None:
        self._asked = True
        await super().kill(restart=restart)

    async def terminate(self, restart: bool = False) -> None:
        self._asked = True
        await super().terminate(restart=restart)

    async def wait(self) -> int | None:
        """LocalProvisioner forgets the process once it has waited for it: keep its exit code."""
        process = self.process
        code = await super().wait()
        if process is not None:
            self.returncode = code
        return code

    async def cleanup(self, restart: bool = False) -> None:
        """Kernel gone: note how it ended, leave nothing running, and hand the folder back to the grader."""
        await super().cleanup(restart=restart)
        if restart:
            return
        if self._timer is not None:
            self._timer.cancel()
        if self.process is not None:
            if self.process.poll() is None:
                _kill_group(self.process)
            self.returncode = self.process.wait()
            self.process = None
        self.died = self._launched and (not self._asked or self.wall_exceeded)
        if self._uid >= 0:
            kernel_uid.kill_all(self._uid)
            if self._cgroup is not None:
                self.oom_killed = memory_cgroup.release(self._cgroup)
            os.close(self._uid_lock)
            self._uid = -1
        if self._cwd is not None and self.isolation in ("rlimits", "none"):  # it wrote to the real folder
            _scrub_links(self._cwd)
        shutil.rmtree(self.runtime, ignore_errors=True)
        self._blank.unlink(missing_ok=True)

    def open_to_peer(self) -> None:
        """Let a verdict kernel (another uid) connect to this kernel's sockets; what it sends back is data."""
        if self._uid >= 0:
            os.chmod(self.runtime, 0o711)
            for sock in self.runtime.iterdir():
                if stat.S_ISSOCK(sock.lstat().st_mode):
                    os.chmod(sock, 0o666)

    def disk_used(self) -> int:
        """Bytes in the kernel's tmpfs now (read through a live kernel process), and remember the peak."""
        if self._uid < 0:
            return 0
        for pid in kernel_uid.pids(self._uid):
            try:
                st = os.statvfs(f"/proc/{pid}/root{DISK}")
            except OSError:
                continue
            self.disk_peak = max(self.disk_peak, (st.f_blocks - st.f_bfree) * st.f_frsize)
            break
        return self.disk_peak

    @property
    def disk_full(self) -> bool:
        """The kernel filled (all but 1 % of) its disk: what it wrote, not the grader, decides the grade then."""
        return self.disk_peak >= disk_sizes(self.limits)[0] * 0.99


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel starts through SandboxProvisioner.

    The provisioner is set here rather than named in the kernel spec: jupyter_client finds named provisioners
    through entry points of an installed distribution, and the grader is not one (the wheel holds losslab only)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_id = self.kernel_id or str(uuid.uuid4())
        self.provisioner = SandboxProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


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
