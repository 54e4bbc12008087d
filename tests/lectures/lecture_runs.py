"""Execute a lecture twin once, the way a student's kernel runs it, and read back what it computed.

A probe cell appended to the notebook prints one JSON line with the values the claims tests need, so each
claim is checked against the numbers the notebook itself computed. TensorFlow twins run without the
Makefile's TF_CPP_MIN_LOG_LEVEL / TF_ENABLE_ONEDNN_OPTS, as in Colab or a student's own JupyterLab: what
TensorFlow prints then lands in `stderr`, which the tests require to be empty.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("pytorch", "tensorflow")
PROBE = "LECTURE_PROBE "
STUDENT_UNSET = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")


@dataclass
class LectureRun:
    framework: str
    stem: str
    values: dict
    stderr: str
    markdown: str


def notebook(framework: str, stem: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "course" / framework / f"{stem}.ipynb", as_version=4)


def markdown(nb: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@contextmanager
def student_environment():
    """The kernel inherits os.environ: drop the variables the Makefile sets to quiet TensorFlow."""
    saved = {name: os.environ.pop(name) for name in STUDENT_UNSET if name in os.environ}
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        yield
    finally:
        os.environ.update(saved)


def execute(framework: str, stem: str, probe: str) -> LectureRun:
    """Run the twin top to bottom in a fresh python3 kernel, then `probe`, code that fills the dict
    `PROBE_VALUES` from the notebook's variables; return those values, the stderr and the prose."""
    from nbclient import NotebookClient

    nb = notebook(framework, stem)
    nb.cells.append(nbformat.v4.new_code_cell(
        probe.strip() + f"\nimport json as _json\nprint({PROBE!r} + _json.dumps(PROBE_VALUES))"))
    with student_environment():
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    stderr = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.output_type == "stream" and o.name == "stderr")
    return LectureRun(framework, stem, json.loads(text.split(PROBE, 1)[1]), stderr, markdown(nb))
