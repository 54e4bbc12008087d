"""Test cells run in a verdict kernel where no student code ever ran.

In one interpreter, code that runs before the tests can rewrite them: an IPython input transformer turns every
later cell into `pass`, a patched `losslab.grading.check_close` passes everything. So the student's cells run in
the sandboxed student kernel as before, and nbgrader's test cells (visible and hidden) run in a second sandboxed
kernel that holds losslab and the comparisons. The student names a test cell reads are bound there by
`bridge.install_verdict`: calling one runs the call in the student kernel and brings back data only. nbgrader
stays the engine: this is its Execute step, with each cell sent to the kernel it belongs to.
"""
from __future__ import annotations

import ast
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nbclient.util import run_sync
from nbformat import NotebookNode

from .bridge import CELLS_FILE
from .sandbox_provisioner import SandboxedKernelManager
from .sandboxed_execute import SandboxedExecute

#: Runs at the verdict kernel's start-up, before any cell: connect to the student kernel, bind names per cell.
_STARTUP = "import autograder.bridge; autograder.bridge.install_verdict()"


def _warm_up(cells: list[NotebookNode]) -> str:
    """Code importing every module the test cells import (its reply is never awaited: nbclient skips it)."""
    modules: set[str] = set()
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module)
    return (f"import importlib as __i\nfor __m in {sorted(modules)!r}:\n    try:\n        __i.import_module(__m)\n"
            "    except Exception:\n        pass")


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell (nbgrader: graded, not a solution): it runs in the verdict kernel."""
    from nbgrader import utils

    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def _write_student_cells(cells: list[NotebookNode], path: Path) -> None:
    """The code cells the student kernel runs, [label, source] in order, for the verdict kernel to read at start-up:
    `losslab.grading.assert_avoids` reads a function's code from here, never from the student's kernel."""
    own = [[c.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"{i + 1}", c.source]
           for i, c in enumerate(cells) if c.cell_type == "code" and not is_test_cell(c)]
    path.write_text(json.dumps(own), encoding="utf-8")
    path.chmod(0o444)  # the verdict kernel runs as another uid


class VerdictExecute(SandboxedExecute):
    """SandboxedExecute with a second kernel for the test cells."""

    @contextmanager
    def setup_kernel(self, **kwargs: Any) -> Iterator[None]:
        self._verdict: tuple[Any, Any] | None = None
        self._verdict_cwd = Path(tempfile.mkdtemp(prefix="lsbx-verdict-"))
        try:
            with super().setup_kernel(**kwargs):  # starts both kernels (start_new_kernel), waits for the student's
                run_sync(self._async_connect_verdict)()
                yield
        finally:
            run_sync(self._async_stop_verdict)()
            shutil.rmtree(self._verdict_cwd, ignore_errors=True)

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        """The student kernel, then at once the verdict kernel: they start side by side."""
        await super().async_start_new_kernel(**kwargs)
        km = SandboxedKernelManager(kernel_name=self.km.kernel_name, config=self.config)
        km.provisioner.peer = self.km.provisioner
        self._verdict = (km, None)  # stopped in _async_stop_verdict even when it never answers
        _write_student_cells(self.nb.cells, self._verdict_cwd / CELLS_FILE)
        extra = [*self.extra_arguments, f"--IPKernelApp.exec_lines={_STARTUP}"]
        await km.start_kernel(extra_arguments=extra, cwd=str(self._verdict_cwd))

    start_new_kernel = run_sync(async_start_new_kernel)

    async def _async_connect_verdict(self) -> None:
        """Once the student kernel is up: open its sockets to the verdict kernel, connect, and let the verdict kernel
        import what the test cells import while the student's cells run."""
        km = self._verdict[0]
        self.km.provisioner.open_to_peer()
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=self.startup_timeout)
        kc.allow_stdin = False
        self._verdict = (km, kc)
        kc.execute(_warm_up([c for c in self.nb.cells if is_test_cell(c)]), silent=True, store_history=False)

    async def _async_stop_verdict(self) -> None:
        if self._verdict is None:
            return
        km, kc = self._verdict
        self._verdict = None
        if kc is not None:
            kc.stop_channels()
        try:
            if await km.is_alive():
                await km.shutdown_kernel(now=True)
        finally:
            await km.cleanup_resources()

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        if self._verdict is None or self._verdict[1] is None or not is_test_cell(cell) or self._record.died:
            return super().preprocess_cell(cell, resources, index)
        student = self.km, self.kc
        self.km, self.kc = self._verdict
        self._student_km = student[0]
        try:
            return super().preprocess_cell(cell, resources, index)
        finally:
            self.km, self.kc = student
            self._student_km = None

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None) -> Any:
        """A test cell past its time is usually waiting on student code: interrupt that too."""
        student = getattr(self, "_student_km", None)
        if student is not None and await student.is_alive():
            await student.interrupt_kernel()
        return await super()._async_handle_timeout(timeout, cell)
