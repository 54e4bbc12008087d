"""Run inside a student environment (copied there, not imported from the repository): execute notebooks in the
current folder as a student would, then print one JSON report on the last line of stdout.

    python run_notebooks.py probe                       where the kernel runs, and whether losslab imports
    python run_notebooks.py run LECTURE.ipynb ... --stubs RELEASE.ipynb ...

Lectures run top to bottom and must not fail (a cell tagged raises-exception may). Releases run cell by cell,
continuing after errors: every error must be the NotImplementedError of an unsolved stub.
"""
from __future__ import annotations

import json
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

PROBE = """\
import importlib.util, json, sys
spec = importlib.util.find_spec("losslab")
print(json.dumps({"executable": sys.executable, "path": sys.path,
                  "losslab": spec.origin if spec else None}))"""
#: Per cell: generous, because the other test worker may be busy (lecture cells take seconds when idle).
CELL_TIMEOUT = 900


def execute(path: str, allow_errors: bool) -> tuple[nbformat.NotebookNode, str | None]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": "."}})
    try:
        client.execute()
    except CellExecutionError as exc:
        return nb, str(exc)[-3000:]
    return nb, None


def errors(nb: nbformat.NotebookNode) -> list[dict]:
    """Every error output: its code cell's index among all cells, the exception name and its last line."""
    return [{"cell": index, "ename": out.get("ename"), "evalue": str(out.get("evalue"))[:300]}
            for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def main(argv: list[str]) -> dict:
    if argv[0] == "probe":
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
        NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3").execute()
        return json.loads(nb.cells[0].outputs[0]["text"])
    report = {}
    stubs = argv.index("--stubs") if "--stubs" in argv else len(argv)
    for position, path in enumerate(argv[1:], start=1):
        if path == "--stubs":
            continue
        start = time.perf_counter()
        nb, failure = execute(path, allow_errors=position > stubs)
        report[path] = {"seconds": round(time.perf_counter() - start, 1), "failure": failure, "errors": errors(nb),
                        "code_cells": sum(c.cell_type == "code" for c in nb.cells),
                        "executed": sum(c.get("execution_count") is not None for c in nb.cells)}
        print(f"{path}: {report[path]['seconds']} s", file=sys.stderr, flush=True)
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
