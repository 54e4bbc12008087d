"""Run one submission's kernels isolated and bounded: the one call that makes nbgrader's autograde do it.

nbgrader runs student code as the grader, beside the gradebook, without limits. `apply` swaps in the parts that
change that, each in its own module:

- `limits`: what a submission may use (`Limits`); `isolation`: how far this machine can isolate (`isolation_report`);
- `sandbox_command`: the bubblewrap/setpriv/prlimit command line and the clean environment a kernel starts with
  (fresh mount/pid/net/ipc/uts namespaces; only the system, Python, the venv and losslab, read-only, and the
  notebook's folder, its notebook masked, on one bounded tmpfs; ZMQ on ipc sockets);
- `kernel_uid` (a throwaway uid per kernel) and `memory_cgroup` (one memory limit for all its processes);
- `sandbox_provisioner`: a jupyter_client kernel provisioner that starts, times and cleans up the kernel;
- `sandboxed_execute`: nbgrader's Execute step with output caps, survival of a dying kernel, and the record;
- `kernel_record`: how each kernel ended, the one source of the statuses timed_out, out_of_memory, disk_full and
  kernel_died (`findings`);
- `verdict`: the second kernel in which test cells run.
"""
from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

from .kernel_record import RECORD_NAME
from .limits import Limits


def apply(config: Config, limits: Limits | None, workdir: Path | str, verdict: bool = True) -> Path:
    """Make ONE submission's autograde run its kernels in the sandbox; returns the record file it will write.

    workdir is the submission's private course directory: the record lives there, out of the kernel's sight
    (the kernel only sees the notebook's folder, autograded/<student>/<assignment>). verdict=True runs the test
    cells in a second kernel (`autograder.verdict`); False, all in the student's kernel, is kept for
    benchmarks/bench_grading.py to measure what the second kernel costs."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from .sandbox_provisioner import SandboxedKernelManager
    from .sandboxed_execute import SandboxedExecute
    from .verdict import VerdictExecute

    limits = limits or Limits()
    executor = VerdictExecute if verdict else SandboxedExecute
    record = Path(workdir) / RECORD_NAME
    record.unlink(missing_ok=True)
    stock = Autograde.class_traits()["autograde_preprocessors"].default()
    current = config.Autograde.get("autograde_preprocessors", stock)
    config.Autograde.autograde_preprocessors = [executor if p is Execute else p for p in current]
    config.Execute.kernel_manager_class = SandboxedKernelManager
    config.Execute.timeout = limits.cell_timeout
    config.Execute.interrupt_on_timeout = True
    config.Execute.raise_on_iopub_timeout = False
    config.SandboxedExecute.output_bytes = limits.output_bytes
    config.SandboxedExecute.record_path = str(record)
    config.SandboxProvisioner.limits = limits
    return record
