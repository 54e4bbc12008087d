"""Execute a lecture twin once, the way a student's kernel runs it, and read back what it computed.

A probe cell appended to the notebook prints one JSON line with the values the claims tests need, so each
claim is checked against the numbers the notebook itself computed. TensorFlow twins run without the
Makefile's TF_CPP_MIN_LOG_LEVEL / TF_ENABLE_ONEDNN_OPTS, as in Colab or a student's own JupyterLab: what
TensorFlow prints then lands in `stderr`, which `test_lectures_quiet.py` requires to be empty.

Each twin runs once per test session: `twin_runs` (the claims modules' fixture) and the quiet test share one
execution through a file cache that pytest-xdist workers share, so a second reader waits for the first
execution instead of repeating it. A lecture's probe is the `PROBE` of tests/lectures/test_lecture_NN_claims.py.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("pytorch", "tensorflow")
MARKER = "LECTURE_PROBE "  # starts the probe's output line
STUDENT_UNSET = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")
NO_PROBE = "PROBE_VALUES = {}"


def lecture_stems() -> list[str]:
    """Every lecture that has a source in course/src: a new lecture is covered without editing a test."""
    return sorted(p.stem for p in (ROOT / "course" / "src").glob("[0-9][0-9]_*.md"))


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
        probe.strip() + f"\nimport json as _json\nprint({MARKER!r} + _json.dumps(PROBE_VALUES))"))
    with student_environment():
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    stderr = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.output_type == "stream" and o.name == "stderr")
    return LectureRun(framework, stem, json.loads(text.split(MARKER, 1)[1]), stderr, markdown(nb))


def probe_for(stem: str) -> str:
    """The PROBE of the lecture's claims module (test_lecture_NN_claims.py), or an empty probe without one."""
    try:
        module = importlib.import_module(f"tests.lectures.test_lecture_{stem[:2]}_claims")
    except ModuleNotFoundError:
        return NO_PROBE
    return getattr(module, "PROBE", NO_PROBE)


def shared_run(request: pytest.FixtureRequest, framework: str, stem: str, probe: str) -> LectureRun:
    """`execute` once per session: the first caller, on any xdist worker, executes and stores the result
    under a lock; every later caller reads it."""
    factory = request.getfixturevalue("tmp_path_factory")
    base = factory.getbasetemp()
    folder = (base.parent if hasattr(request.config, "workerinput") else base) / "lecture-runs"
    folder.mkdir(exist_ok=True)
    digest = hashlib.sha256(probe.encode()).hexdigest()[:12]
    path = folder / f"{framework}-{stem}-{digest}.json"
    with FileLock(f"{path}.lock"):
        if path.is_file():
            return LectureRun(**json.loads(path.read_text()))
        run = execute(framework, stem, probe)
        path.write_text(json.dumps(dataclasses.asdict(run)))
    return run


def twin_runs(stem: str, probe: str):
    """The `run` fixture of a claims module: each twin of `stem` executed once, with `probe` appended."""

    @pytest.fixture(scope="module", params=FRAMEWORKS)
    def run(request: pytest.FixtureRequest) -> LectureRun:
        return shared_run(request, request.param, stem, probe)

    return run
