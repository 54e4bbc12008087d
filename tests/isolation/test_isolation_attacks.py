"""Attacks on the grading itself: a BLANK a1 with one attack added to its first solution cell must get 0 points.

In one interpreter each of these took a blank submission to the reference's score: code that runs before the
tests rewrote how they run, what they compare or what they report. Test cells now run in a verdict kernel where no
student code ran, so each attack can only break the student's own kernel. The attacks are a table of families
with several members each (a hidden attack of a known family should fall like its siblings); all are graded in
ONE pipeline run on 2 workers.
"""
from __future__ import annotations

from dataclasses import dataclass

import nbformat
import pytest

from autograder import isolation, pipeline
from autograder.course import REPO, build_course
from autograder.limits import Limits

A1 = "a1_loss_curves"
LIMITS = Limits(cell_timeout=120, wall_seconds=600, max_processes=128, output_bytes=100_000, disk_mb=96,
                file_mb=16)  # a1's hidden diagnose test trains 20 runs (past 30 s on a busy machine)
pytestmark = [pytest.mark.skipif(not (REPO / "source" / A1).is_dir(), reason="source/a1_loss_curves not present"),
              pytest.mark.skipif(isolation.mode() not in ("full", "userns"),
                                 reason=isolation.isolation_report().splitlines()[0])]

_NOOP_RESULT = ("from IPython.core.interactiveshell import ExecutionResult, ExecutionInfo\n"
                "def _fake(*a, **k):\n    r = ExecutionResult(ExecutionInfo('', False, False, True, None))\n"
                "    r.execution_count = 1\n    return r\n")


@dataclass(frozen=True)
class Attack:
    """Code a student adds at the top of the first solution cell, the tags put on every test cell (tags are not
    checksummed), and the status the grade must carry."""

    family: str
    code: str
    status: str = "graded"
    test_tags: tuple[str, ...] = ()


ATTACKS = {
    # Every later cell (the restored tests included) runs as `pass`.
    "input_transformer_cleanup": Attack("input transformers",
                                        "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])"),
    "input_transformer_post": Attack("input transformers",
                                     "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"),
    "ast_transformer": Attack("AST transformers",
                              "import ast\nclass _Empty(ast.NodeTransformer):\n"
                              "    def visit_Module(self, node):\n        return ast.Module(body=[], type_ignores=[])\n"
                              "get_ipython().ast_transformers.append(_Empty())"),
    "ast_transformer_asserts": Attack("AST transformers",
                                      "import ast\nclass _NoRaise(ast.NodeTransformer):\n"
                                      "    def visit_Raise(self, node):\n        return ast.Pass()\n"
                                      "    def visit_Assert(self, node):\n        return ast.Pass()\n"
                                      "get_ipython().ast_transformers.append(_NoRaise())"),
    # The shell's cell runner replaced: every later cell "succeeds" without running.
    "run_cell": Attack("cell runner", _NOOP_RESULT + "get_ipython().run_cell = _fake"),
    "run_cell_async": Attack("cell runner", _NOOP_RESULT + "async def _afake(*a, **k):\n    return _fake()\n"
                                                          "get_ipython().run_cell_async = _afake"),
    "transform_cell": Attack("cell runner", "get_ipython().transform_cell = lambda cell: 'pass\\n'"),
    "transformer_manager": Attack("cell runner", "get_ipython().input_transformer_manager.transform_cell = "
                                                 "lambda cell: 'pass\\n'"),
    # The comparisons and the reference patched where the tests import them.
    "patch_check_close": Attack("patched comparisons",
                                "import losslab.grading as g\n"
                                "g.check_close = g.check_true = g.check_label = lambda *a, **k: None"),
    "patch_grading_module": Attack("patched modules",
                                   "import sys, types\nfake = types.ModuleType('losslab.grading')\n"
                                   "fake.__getattr__ = lambda name: (lambda *a, **k: None)\n"
                                   "sys.modules['losslab.grading'] = fake\nimport losslab\nlosslab.grading = fake"),
    "patch_losslab_torch": Attack("patched modules",
                                  "import losslab.torch\n"
                                  "losslab.torch.train_with_loss_tracking = lambda *a, **k: {'train_loss': [0.0]}"),
    "patch_numpy": Attack("patched modules",
                          "import numpy\nnumpy.isclose = lambda a, b, **k: numpy.ones_like(a, bool)"),
    # Errors swallowed before they reach the grader.
    "excepthook": Attack("swallowed exceptions", "import sys\nsys.excepthook = lambda *a: None"),
    "showtraceback": Attack("swallowed exceptions", "get_ipython().showtraceback = lambda *a, **k: None"),
    "custom_exc": Attack("swallowed exceptions",
                         "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"),
    # Leaving before the tests run.
    "os_exit": Attack("early exit", "import os\nos._exit(0)", "kernel_died"),
    "sys_exit": Attack("early exit", "import sys\nsys.exit(0)"),
    "kill_self": Attack("early exit", "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)", "kernel_died"),
    "ask_exit": Attack("early exit", "get_ipython().ask_exit()", "kernel_died"),
    # The bridge's student side replaced with one that answers every call.
    "forged_bridge": Attack("forged answers",
                            "import autograder.bridge as b, base64\n"
                            "b.serve = lambda request: base64.b64encode("
                            "b.encode({'result': 0.0, 'states': []})).decode()"),
    # Many files, each under the per-file limit, filling the disk.
    # nbclient skips cells tagged "skip-execution": a test that never runs raises nothing.
    "skip_tagged_tests": Attack("skipped tests", "", test_tags=("skip-execution",)),
    "raises_exception_tagged_tests": Attack("skipped tests", "", test_tags=("raises-exception", "skip-execution")),

    "disk_filler": Attack("disk", "import os\nfor _i in range(40):\n"
                                  "    try:\n        open(f'fill{_i}', 'wb').write(b'x' * (15 << 20))\n"
                                  "    except OSError:\n        break", "disk_full"),
}


def _blank_with(attack: Attack, release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.reads(nbformat.writes(release), 4)
    first = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    first.source = attack.code + "\n\n" + first.source
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if attack.test_tags and meta.get("grade") and not meta.get("solution"):
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), *attack.test_tags]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("attacks")
    build_course(tmp / "course", [A1])
    release = nbformat.read(tmp / "course" / "release" / A1 / f"{A1}.ipynb", 4)
    for student, attack in ATTACKS.items():
        folder = tmp / "class" / student / A1
        folder.mkdir(parents=True)
        nbformat.write(_blank_with(attack, release), folder / f"{A1}.ipynb")
    results = pipeline.grade(tmp / "class", tmp / "out", workers=2, limits=LIMITS, assignments=[A1], progress=False)
    return {r.student: r for r in results}


@pytest.mark.parametrize("student", sorted(ATTACKS))
def test_attack_on_a_blank_submission_scores_zero(graded: dict, student: str) -> None:
    result, attack = graded[student], ATTACKS[student]
    auto = {c.grade_id: c.score for c in result.cells if c.autograded}
    assert auto and sum(auto.values()) == 0 and result.score == 0, (attack.family, auto, result.reason)
    assert result.status == attack.status, (attack.family, result.reason)
