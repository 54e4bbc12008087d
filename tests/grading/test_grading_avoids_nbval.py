"""assert_avoids in a notebook run without input history (nbval, as `make test` runs source/): it reads the
cells from IPython's code cache, so a rule holds and a broken rule is caught there too."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest


def _run_under_nbval(tmp_path, body: str) -> subprocess.CompletedProcess:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import math\n\ndef root(x):\n    return " + body),
                nbformat.v4.new_code_cell("from losslab.grading import assert_avoids\n"
                                          "assert_avoids(root, ['math.log'], 'no logarithms')\n")]
    path = tmp_path / "rule.ipynb"
    nbformat.write(nb, path)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval-lax",
                           str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=600)


@pytest.mark.parametrize(("body", "passes"), [("math.sqrt(x)", True), ("math.exp(0.5 * math.log(x))", False)])
def test_assert_avoids_reads_cells_run_without_history(tmp_path, body, passes):
    run = _run_under_nbval(tmp_path, body)
    assert (run.returncode == 0) is passes, run.stdout[-3000:]
    if not passes:
        assert "root uses math.log" in run.stdout and "no logarithms" in run.stdout, run.stdout[-3000:]
