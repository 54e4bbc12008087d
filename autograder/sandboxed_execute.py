"""nbgrader's Execute step as grading runs it: output capped while it streams in, a dying kernel survived (later
cells marked, not run), every cell run whatever its tags, and one KernelRecord per notebook written."""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, Unicode, default

from . import kernel_record
from .checks import cell_label
from .kernel_record import KernelRecord
from .sandbox_provisioner import SandboxProvisioner


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
        self._record = KernelRecord(notebook=Path((resources or {}).get("metadata", {}).get("name", "?")).name)
        self._sizes: dict[int, int] = {}
        self._provisioner: SandboxProvisioner | None = None
        self._current = ""
        try:
            return super().preprocess(nb, resources, km)
        except Exception as exc:  # the run stopped on the grader side: the record says why, nbgrader reports it
            self._record.failed = [type(exc).__name__, str(exc)[:2000]]
            self._record.died_in = self._record.died_in or self._current or None
            raise
        finally:
            self._write_record()

    def create_kernel_manager(self) -> Any:
        km = super().create_kernel_manager()
        provisioner = getattr(km, "provisioner", None)
        self._provisioner = provisioner if isinstance(provisioner, SandboxProvisioner) else None
        return km

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        self._current = cell_label(cell, index)
        if self._record.died:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [_error("KernelDied", "not run: the kernel died in an earlier cell")]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._record.died, self._record.died_in = True, cell_label(cell, index)
            cell.outputs.append(_error("KernelDied", "the kernel died while running this cell"))
        except CellTimeoutError:  # output still streaming in past the deadline (raise_on_iopub_timeout)
            self._record.timed_out.append(cell_label(cell, index))
            cell.outputs.append(_error("CellTimeoutError", "cell output still arriving at the time limit"))
        if self._provisioner is not None:
            self._provisioner.disk_used()
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and "No space left on device" in str(out.get("evalue", "")):
                self._record.disk_full = True
            if out.get("output_type") == "error" and _is_memory_error(out):
                self._record.memory_errors.append(cell_label(cell, index))
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
        self._record.truncated.append(cell_label(self.nb.cells[cell_index], cell_index))
        if msg["msg_type"] == "stream":
            msg = {**msg, "content": {**msg["content"], "text": msg["content"]["text"][: self.output_bytes - used]}}
            super().output(outs, msg, display_id, cell_index)
        name = msg["content"].get("name", "stdout") if msg["msg_type"] == "stream" else "stdout"
        note = NotebookNode(output_type="stream", name=name,  # the pipeline drops stderr, so a cut stdout says so
                            text=f"\n[output cut by the grader at {self.output_bytes} bytes]\n")
        outs.append(note)
        return note

    def _write_record(self) -> None:
        """The record of this notebook's kernel: the cells' facts noted here, how the kernel ended from its
        provisioner."""
        ended = self._provisioner
        if ended is not None:
            self._record.isolation, self._record.returncode = ended.isolation, ended.returncode
            self._record.wall_exceeded, self._record.oom_killed = ended.wall_exceeded, ended.oom_killed
            self._record.died = self._record.died or ended.died
            self._record.disk_full = self._record.disk_full or ended.disk_full
        if self.record_path:
            kernel_record.write(self._record, self.record_path)


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _is_memory_error(out: NotebookNode) -> bool:
    text = f"{out.get('ename', '')} {out.get('evalue', '')}".lower()
    return "memoryerror" in text or "can't allocate memory" in text or "cannot allocate memory" in text
