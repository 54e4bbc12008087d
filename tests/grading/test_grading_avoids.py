"""losslab.grading.assert_avoids: a rule an assignment states ("do not call torch.optim") enforced from the code
of the notebook's cells, through aliases, helpers and the other ways of writing the same call."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from autograder import kernel_record, sandbox
from autograder.limits import Limits
from autograder.verdict import VerdictExecute
from losslab.grading import assert_avoids

RULE = "Do not call torch.nn.functional's losses or torch.optim inside your solutions."
LOSSES = ["torch.nn.functional.mse_loss", "torch.nn.functional.cross_entropy", "torch.optim"]
IMPORTS = "import torch\nimport torch.nn.functional as F\nimport numpy as np"


class Served:
    """A stand-in as the verdict kernel binds it: its type serves (name, the grader's copy of the cells)."""

    def __init__(self, name: str, *cells: str) -> None:
        self.name, self.cells = name, [(f"c{i}", source) for i, source in enumerate(cells)]

    def __lsbx_cells__(self) -> tuple[str, list[tuple[str, str]]]:
        return self.name, self.cells


def _fails(name: str, *cells: str, forbidden=LOSSES, **kw) -> str:
    with pytest.raises(AssertionError) as info:
        assert_avoids(Served(name, *cells), forbidden, RULE, **kw)
    message = str(info.value)
    assert message.endswith(RULE) and message.startswith(name)
    return message


@pytest.mark.parametrize("cells, found", [
    ((IMPORTS, "def mse_loss(a, b):\n    return F.mse_loss(a, b)"), "torch.nn.functional.mse_loss"),
    (("from torch.nn.functional import cross_entropy as ce", "def loss(a, b):\n    return ce(a, b)"),
     "torch.nn.functional.cross_entropy"),
    (("import torch", "def loss(a, b):\n    return torch.nn.functional.mse_loss(a, b)"), "torch.nn.functional.mse_loss"),
    (("from torch import nn", "def loss(a, b):\n    return nn.functional.mse_loss(a, b)"), "torch.nn.functional.mse_loss"),
    ((IMPORTS, "_mse = F.mse_loss\n\ndef loss(a, b):\n    return _mse(a, b)"), "torch.nn.functional.mse_loss"),
    ((IMPORTS, "def _helper(a, b):\n    return F.cross_entropy(a, b)\n\ndef loss(a, b):\n    return _helper(a, b)"),
     "torch.nn.functional.cross_entropy"),
    ((IMPORTS, "def _helper(a, b):\n    return F.cross_entropy(a, b)", "def loss(a, b):\n    return _helper(a, b)"),
     "torch.nn.functional.cross_entropy"),
    (("import torch", "def loss(a, b):\n    import torch.nn.functional as G\n    return G.mse_loss(a, b)"),
     "torch.nn.functional.mse_loss"),
    (("import torch", "def loss(a, b, f=torch.nn.functional):\n    return f.mse_loss(a, b)"),
     "torch.nn.functional.mse_loss"),
    (("import torch", "class Opt:\n    def __init__(self, p):\n        self.inner = getattr(torch, 'optim').SGD(p, 0.1)"),
     "torch.optim"),
    (("import importlib", "def make(p):\n    return importlib.import_module('torch.optim').Adam(p)"), "torch.optim"),
    (("import sys, torch", "def make(p):\n    return sys.modules['torch.optim'].Adam(p)"), "torch.optim"),
    (("from torch.nn.functional import *", "def loss(a, b):\n    return mse_loss(a, b)"),
     "torch.nn.functional.mse_loss"),
    (("def loss(a, b):\n    exec('import torch.nn.functional as H')\n    return H.mse_loss(a, b)",), "torch.nn.functional.mse_loss"),
    (("import torch", "def loss(a, b):\n    return torch.nn.modules.loss.F.mse_loss(a, b)"),  # identity: loss.F is F
     "torch.nn.functional.mse_loss"),
    ((IMPORTS, "%time x = 1\ndef loss(a, b):\n    return F.mse_loss(a, b)"), "torch.nn.functional.mse_loss"),
])
def test_each_way_of_writing_a_forbidden_call_is_caught(cells, found) -> None:
    name = "mse_loss" if "mse_loss(a, b):" in cells[-1] else ("Opt" if "class Opt" in cells[-1] else
                                                                 ("make" if "def make" in cells[-1] else "loss"))
    assert f"uses {found} (" in _fails(name, *cells)


def test_the_message_names_the_cell_line_and_code() -> None:
    message = _fails("mse_loss", IMPORTS, "def mse_loss(a, b):\n    d = a - b\n    return F.mse_loss(a, b)")
    assert "uses torch.nn.functional.mse_loss (F.mse_loss, cell c1, line 3): " in message


def test_an_optimizer_class_may_subclass_what_is_allowed() -> None:
    cells = ("import torch", "class Adam(torch.optim.Optimizer):\n    def step(self):\n        pass")
    assert_avoids(Served("Adam", *cells), ["torch.optim"], RULE, allow=["torch.optim.Optimizer"])
    _fails("Adam", *cells, forbidden=["torch.optim"])
    via_other_path = ("from torch.optim.optimizer import Optimizer", "class Adam(Optimizer):\n    pass")
    assert_avoids(Served("Adam", *via_other_path), ["torch.optim"], RULE, allow=["torch.optim.Optimizer"])


def test_written_formulas_pass_and_other_cells_do_not_count() -> None:
    demo = "import torch.nn.functional as F\nloss = F.mse_loss(torch.zeros(2), torch.ones(2))\nprint(F.cross_entropy)"
    solution = ("def mse_loss(a, b):\n    loss = ((a - b) ** 2).mean()  # a local, not the demo's global\n"
                "    return loss\n")
    assert_avoids(Served("mse_loss", IMPORTS, demo, solution), LOSSES, RULE)
    relu = "def hinge(a):\n    return F.relu(1 - a).mean()"  # F itself is fine: only its losses are forbidden
    assert_avoids(Served("hinge", IMPORTS, relu), LOSSES, RULE)


def test_the_last_definition_counts() -> None:
    first = "def mse_loss(a, b):\n    return F.mse_loss(a, b)"
    final = "def mse_loss(a, b):\n    return ((a - b) ** 2).mean()"
    assert_avoids(Served("mse_loss", IMPORTS, first, final), LOSSES, RULE)
    _fails("mse_loss", IMPORTS, final, first)


def test_a_name_no_cell_defines_and_a_misspelt_rule_are_errors() -> None:
    with pytest.raises(AssertionError, match="no cell of the notebook defines it"):
        assert_avoids(Served("loss", IMPORTS, "globals()['loss'] = F.mse_loss"), LOSSES, RULE)
    with pytest.raises(ValueError, match="does not name an importable object"):
        assert_avoids(Served("loss", IMPORTS, "def loss(): pass"), ["torch.optim.SGDD"], RULE)


def test_in_the_students_own_kernel_it_reads_the_history(tmp_path: Path) -> None:
    """One kernel (a student's notebook, Colab): the cells come from IPython's input history."""
    script = textwrap.dedent("""
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        cells = ["import json as J", "def dump(x):\\n    return J.dumps(x)",
                 "from losslab.grading import assert_avoids\\n"
                 "try:\\n    assert_avoids(dump, 'json.dumps', 'no json')\\nexcept AssertionError as e:\\n    print('FAIL', e)",
                 "def dump(x):\\n    return repr(x)",
                 "assert_avoids(dump, ['json.dumps'], 'no json'); print('PASS')",
                 "for _f in (dump,):  # a test cell: its private names bound to dump, and the reference\\n"
                 "    _ref = J.dumps(1)",
                 "assert_avoids(dump, ['json.dumps'], 'no json'); print('PASS')",
                 "import json\\nalias = json.dumps",
                 "try:\\n    assert_avoids(alias, 'json.dumps', 'no json')\\nexcept AssertionError as e:\\n    print('FAIL', e)"]
        for cell in cells:
            shell.run_cell(cell, store_history=True).raise_error()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "FAIL dump uses json.dumps (J.dumps, cell In [2], line 2): no json", out
    assert lines[1:3] == ["PASS", "PASS"] and lines[3] == "FAIL alias is json.dumps itself: no json", out


def test_in_the_verdict_kernel_it_reads_the_graders_copy(tmp_path: Path) -> None:
    """Graded: the test cell runs in the verdict kernel and reads the notebook the grader holds, not the student
    kernel's history, which the student's code rewrites here."""
    def cell(source: str, gid: str, test: bool) -> nbformat.NotebookNode:
        meta = {"grade": test, "solution": not test, "locked": test, "grade_id": gid, "schema_version": 3}
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {**meta, **({"points": 1} if test else {})}})

    check = ("from losslab.grading import assert_avoids as _avoids\n_avoids({}, ['json.dumps'], 'write it by hand')\n"
             "print('clean')")
    hide = ("get_ipython().history_manager.input_hist_parsed[:] = ['def dump(x):\\n    return repr(x)']\n"
            "get_ipython().history_manager.input_hist_raw[:] = []")
    nb = nbformat.v4.new_notebook(cells=[
        cell("import json as J", "imports", False),
        cell("def dump(x):\n    return J.dumps(x)", "solution", False),
        cell("def fine(x):\n    return repr(x)", "solution_2", False),
        cell(hide, "hide", False),
        cell(check.format("dump"), "test_dump", True),
        cell(check.format("fine"), "test_fine", True),
    ])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder = tmp_path / "autograded" / "s1" / "a1"
    folder.mkdir(parents=True)
    config = Config()
    sandbox.apply(config, Limits(cell_timeout=120, wall_seconds=300), tmp_path)
    executed, _ = VerdictExecute(config=config).preprocess(nb, {"metadata": {"path": str(folder), "name": "n.ipynb"}})
    dump, fine = executed.cells[4].outputs, executed.cells[5].outputs
    assert [o.get("ename") for o in dump if o.output_type == "error"] == ["AssertionError"], dump
    assert "dump uses json.dumps (J.dumps, cell solution, line 2): write it by hand" in dump[-1].evalue
    assert [o.get("text") for o in fine] == ["clean\n"], fine
    assert json.loads((tmp_path / kernel_record.RECORD_NAME).read_text().splitlines()[0])["died"] is False


def test_the_grading_package_imports_no_framework_until_a_fixture_runs() -> None:
    """losslab.grading is framework-free assertions plus per-framework fixtures that import torch or keras when
    called: a TensorFlow assignment's test cell never pays for torch, nor the reverse."""
    code = ("import sys, losslab.grading as g\nprint(sorted({'torch', 'tensorflow', 'keras', 'IPython'} & set(sys.modules)),"
            " g.torch_optimizer_trace.__module__, g.keras_twin.__module__, g.check_close.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["[]", "losslab.grading.torch_fixtures", "losslab.grading.keras_fixtures",
                                  "losslab.grading.compare"]
