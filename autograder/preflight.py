"""Before grading a class: start one kernel exactly as grading will (the sandbox, its limits, this venv) and run a
trivial cell. A kernel that cannot start (a copied .venv whose interpreter is missing: exit code 127) would
otherwise grade every student 0 `kernel_died`; this stops first, says why, and grades nothing."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

#: The trivial cell and what it must print.
CELL, EXPECTED = "print(6 * 7)", "42"


class PreflightFailed(RuntimeError):
    """The grading kernel does not start or does not run a trivial cell: nothing can be graded."""


def check(limits: Any = None, scheduler: str | None = None) -> None:
    """Raise PreflightFailed with the reason unless a sandboxed kernel runs a trivial cell. With a Dask scheduler
    address the check runs on one of its workers, where the grading will run."""
    if scheduler is None:
        run_here(limits)
        return
    from distributed import Client

    with Client(scheduler) as client:
        client.submit(run_here, limits, pure=False).result()


def run_here(limits: Any = None) -> None:
    """The check on this machine, through the grader's own sandbox code: sandbox.apply and the Execute step it
    installs, so every kernel grading starts (the student's, and the verdict kernel for test cells) starts here."""
    import nbformat
    from nbgrader.preprocessors import Execute
    from traitlets.config import Config

    from . import isolation, kernel_record, sandbox
    from .limits import Limits

    limits = limits if limits is not None else Limits()
    with tempfile.TemporaryDirectory(prefix="autograder-preflight-") as tmp:
        workdir = Path(tmp)
        folder = workdir / "preflight"  # the kernel's own folder, never the one holding the record
        folder.mkdir()
        config = Config()
        sandbox.apply(config, limits, workdir)
        execute = next(p for p in config.Autograde.autograde_preprocessors
                       if isinstance(p, type) and issubclass(p, Execute))
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
        nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
        error = None
        try:
            resources = {"metadata": {"path": str(folder), "name": "preflight.ipynb"}}
            nb, _ = execute(config=config).preprocess(nb, resources)
        except Exception as exc:  # whatever stops the kernel: its message is the reason to show
            lines = str(exc).strip().splitlines()
            error = f"{type(exc).__name__}: {lines[-1] if lines else ''}".strip(": ")
        problems = [reason for _, reason in kernel_record.findings(workdir)]
        outputs = nb.cells[0].get("outputs", [])
        text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
        errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.get("output_type") == "error"]
    if error is None and not problems and not errors and text.strip() == EXPECTED:
        return
    found = [*([error] if error else []), *problems, *errors] or [f"printed {text.strip()[:200]!r}, not {EXPECTED!r}"]
    isolation = isolation.isolation_report(limits).splitlines()[0].strip().rstrip(",")
    raise PreflightFailed(f"the grading kernel could not run `{CELL}` ({isolation}): {'; '.join(found)}. Nothing was "
                          "graded: check that the environment grading runs in can start `python -m ipykernel` "
                          "(a copied .venv needs `make venv` again).")
