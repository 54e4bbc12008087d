"""Flags for a person: each way into the shell or the interpreter, and each call of a reference implementation, is
flagged with its cell, construct and line; honest submissions are not (static analysis only: fast, no kernel)."""
from __future__ import annotations

import functools
from pathlib import Path

import nbformat
import pytest

from autograder.flags import REFERENCE_IMPLEMENTATIONS, scan_notebook, scan_submission

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "autograder" / "sample_class"
A1, A2, A3 = "a1_loss_curves", "a2_losses_optimizers", "a3_gradients_lr"


@functools.lru_cache(maxsize=None)
def _release_text(aid: str) -> str:
    return (REPO / "release" / aid / f"{aid}.ipynb").read_text(encoding="utf-8")


def _release(aid: str) -> nbformat.NotebookNode:
    return nbformat.reads(_release_text(aid), 4)  # a fresh copy: tests edit it


def _with(aid: str, cell_id: str, code: str, added: bool = False) -> nbformat.NotebookNode:
    """The blank release with code put at the top of one solution cell, or in a new cell after it."""
    nb = _release(aid)
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == cell_id)
    if added:
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
    else:
        nb.cells[index].source = code + "\n" + nb.cells[index].source
    return nb


def _flags(aid: str, nb: nbformat.NotebookNode) -> list:
    return scan_notebook(nb, _release(aid), aid)


#: (name, code put in a1's first solution cell, text the flag must contain)
ATTACKS = [
    ("input transformer", "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])",
     "input_transformers_cleanup"),
    ("ast transformer", "import ast\nclass _E(ast.NodeTransformer):\n    def visit_Module(self, node):\n"
                        "        return ast.Module([], [])\nget_ipython().ast_transformers.append(_E())",
     "ast_transformers"),
    ("run_cell replaced", "_ip = get_ipython()\n_ip.run_cell = lambda *a, **k: None", "run_cell"),
    ("shell reached through sys.modules", "import sys\nsys.modules['__main__'].get_ipython", "sys.modules"),
    ("grading helper patched through sys.modules",
     "import sys\nsys.modules['losslab.grading'].check_close = lambda *a, **k: None", "sys.modules"),
    ("excepthook", "import sys\nsys.excepthook = lambda *a: None", "sys.excepthook"),
    ("showtraceback", "get_ipython().showtraceback = lambda *a, **k: None", "showtraceback"),
    ("losslab.grading patched", "import losslab.grading\nlosslab.grading.check_close = lambda *a, **k: None",
     "monkeypatches losslab.grading.check_close"),
    ("numpy comparison patched", "import numpy.testing as npt\nnpt.assert_allclose = lambda *a, **k: None",
     "monkeypatches npt.assert_allclose"),
    ("torch patched through an alias", "F = torch.nn.functional\nF.mse_loss = lambda a, b: 0",
     "monkeypatches F.mse_loss"),
    ("setattr on a module", "import losslab\nsetattr(losslab, 'identify_training_issues', print)", "monkeypatches"),
    ("class patched through an instance", "type(model).forward = lambda self, x: x", "through an instance"),
    ("ctypes", "import ctypes\nctypes.string_at(0)", "ctypes"),
    ("gc walk", "import gc\n[o for o in gc.get_objects() if callable(o)]", "gc.get_objects"),
    ("frame walk", "import inspect\ninspect.currentframe().f_back.f_globals['x'] = 1", "inspect.currentframe"),
    ("sys._getframe", "import sys\nsys._getframe(1).f_locals", "sys._getframe"),
    ("builtins edited", "import builtins\nbuiltins.print = lambda *a, **k: None", "builtins"),
    ("__builtins__ edited", "__builtins__.print = lambda *a, **k: None", "builtins"),
    ("os._exit", "import os\nos._exit(0)", "os._exit"),
    ("os.system", "import os\nos.system('ls')", "os.system"),
    ("from os import system", "from os import system as run\nrun('ls')", "os.system"),
    ("subprocess", "import subprocess\nsubprocess.run(['ls'])", "subprocess"),
    ("shell escape", "!ls /", "shell command"),
    ("bash cell magic", "%%bash\nls /", "%bash"),
    ("history", "_hidden = In[-1]", "In"),
    ("exec of a built string", "_c = 'import ' + name\nexec(_c)", "exec"),
    ("exec of base64", "import base64\nexec(base64.b64decode('aW1wb3J0IGN0eXBlcw=='))", "ctypes"),
    ("eval of compile", "eval(compile(source, 'x', 'exec'))", "eval"),
    ("getattr with a built name", "getattr(get_ipython(), ''.join(['ast_', 'transformers'])).clear()",
     "ast_transformers"),
    ("getattr with a computed name", "getattr(__builtins__, chr(101) + name)('1')", "builtins"),
    ("getattr of a reversed string", "getattr(get_ipython(), 'sremrofsnart_tsa'[::-1]).clear()", "ast_transformers"),
    ("exec of map(chr, ...)", "exec(''.join(map(chr, [105, 109, 112, 111, 114, 116, 32, 99, 116, 121, 112, 101, "
                              "115])))",
     "ctypes"),
    ("getattr of a reversed join", "getattr(__builtins__, ''.join(reversed('cexe')))('1')", "builtins.exec"),
    ("getattr passed around", "_g = getattr\n_g(torch, 'optim')", "getattr passed as a value"),
    ("__import__", "__import__('o' + 's').system('ls')", "__import__"),
    ("importlib", "import importlib\nimportlib.import_module('ctypes')", "import machinery"),
    ("importlib reload", "import importlib, losslab\nimportlib.reload(losslab)", "import machinery"),
    ("rot13 exec", "import codecs\nexec(codecs.decode('vzcbeg bf', 'rot13'))", "decoding"),
    ("code written to a file", "import solution_helpers_written_by_me\n", "does not have"),
    ("fake float", "class Close(float):\n    def __eq__(self, other):\n        return True", "__eq__"),
    ("torch function override", "class T(torch.Tensor):\n    @classmethod\n    def __torch_function__(cls, *a, **k):\n"
                                "        return None", "__torch_function__"),
    ("raise SystemExit", "raise SystemExit", "SystemExit"),
    ("exit()", "exit()", "exit()"),
    ("thread", "import threading\nthreading.Timer(5, print).start()", "threading"),
    ("signal", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)", "signal"),
    ("global hook", "torch.nn.modules.module.register_module_forward_hook(lambda *a: None)", "framework internals"),
    ("vars of a module", "import losslab\nvars(losslab)['x'] = 1", "vars()"),
    ("mock", "from unittest import mock\nmock.patch('losslab.grading.check_close').start()", "mock"),
    ("globals", "globals()['__builtins__']", "globals()"),
    ("memory through /proc", "open('/proc/self/mem', 'wb')", "/proc/"),
    ("format-string attribute", "'{0.__globals__}'.format(train_one_epoch)", "__globals__"),
    ("attrgetter", "import operator\noperator.attrgetter('__globals__')(train_one_epoch)", "attrgetter"),
    ("function code swapped", "train_one_epoch.__code__ = evaluate.__code__", "__code__"),
    ("time magic running an attack", "%time get_ipython().ast_transformers.clear()", "ast_transformers"),
    ("top-level await", "import asyncio\nawait asyncio.sleep(0)", "asyncio"),
    ("locals at the top level", "locals()[name]()", "locals()"),
    ("os reached through torch", "torch.os.system('ls')", "os.system"),
    ("unpickling", "import numpy\nnumpy.load('w.npy', allow_pickle=True)", "allow_pickle"),
    ("other cells' source", "import linecache\n_all = dict(linecache.cache)", "linecache"),
    ("raw memory through numpy", "class Raw:\n    __array_interface__ = {'data': (0, False), 'shape': (8,)}",
     "__array_interface__"),
    ("class-level fake", "class D(dict):\n    __eq__ = lambda self, other: True", "__eq__"),
    ("warnings patched", "import warnings\nwarnings.showwarning = print", "monkeypatches warnings.showwarning"),
    ("patched by a for target", "for torch.allclose in [print]:\n    pass", "monkeypatches torch.allclose"),
    ("module dict updated", "torch.nn.functional.__dict__.update(mse_loss=print)", "__dict__"),
    ("the grader's own code", "import autograder.bridge as b\nb.serve = print", "grader's own code"),
    ("module written to a file", "open('losslab_fake.py', 'w').write('x = 1')", ".py"),
    ("class that lies about its type", "class F:\n    @property\n    def __class__(self):\n        return float",
     "__class__"),
    ("shell from a star import", "from IPython.core.getipython import *\nget_ipython().user_ns", "IPython"),
]


@pytest.mark.parametrize("name,code,expected", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_each_construct_is_flagged_with_cell_line_and_quote(name, code, expected):
    flags = _flags(A1, _with(A1, "train_one_epoch", code))
    assert flags, f"{name}: not flagged"
    assert any(expected in str(f) for f in flags), [str(f) for f in flags]
    first = flags[0]
    assert first.cell == "train_one_epoch" and first.line >= 1 and first.quote
    assert first.quote in code or first.quote.startswith("get_ipython()"), str(first)


@pytest.mark.parametrize("name,code,expected", ATTACKS[:8], ids=[a[0] for a in ATTACKS[:8]])
def test_a_cell_the_student_added_is_read_too(name, code, expected):
    flags = _flags(A1, _with(A1, "train_one_epoch", code, added=True))
    assert any(expected in str(f) for f in flags), [str(f) for f in flags]
    assert flags[0].cell.startswith("cell ")


#: (assignment, solution cell, code, reference name the flag must give)
REFERENCE_CALLS = [
    (A1, "train_model", "from losslab.torch import train_with_loss_tracking\n"
                        "def train_model(model, train_loader, val_loader, criterion, optimizer, num_epochs=10):\n"
                        "    return train_with_loss_tracking(model, train_loader, val_loader, criterion, optimizer,\n"
                        "                                    num_epochs=num_epochs)",
     "losslab.torch.train_with_loss_tracking"),
    (A1, "diagnose", "def diagnose(history):\n    return identify_training_issues(history).primary",
     "losslab.torch.identify_training_issues"),
    (A1, "train_one_epoch", "import losslab.core.loop as L\nrun = L.run_epochs", "losslab.core.loop.run_epochs"),
    (A1, "diagnose", "from losslab.grading import torch_training_run\n"
                     "_runs = [torch_training_run(seed=s, n_samples=99, lr=0.1, num_epochs=5) for s in range(3)]",
     "losslab.grading.torch_training_run"),
    (A2, "regression_losses", "def mse_loss(pred, target):\n    return torch.nn.functional.mse_loss(pred, target)",
     "torch.nn.functional.mse_loss"),
    (A2, "cross_entropy", "import torch.nn.functional as F\n"
                          "def cross_entropy_from_logits(logits, targets):\n"
                          "    return F.cross_entropy(logits, targets)",
     "torch.nn.functional.cross_entropy"),
    (A2, "bce_with_logits", "from torch import nn\n"
                            "def bce_with_logits(logits, targets):\n    return nn.BCEWithLogitsLoss()(logits, targets)",
     "torch.nn.BCEWithLogitsLoss"),
    (A2, "bce_with_logits", "def bce_with_logits(logits, targets):\n"
                            "    return torch.binary_cross_entropy_with_logits(logits, targets)",
     "torch.binary_cross_entropy_with_logits"),
    (A2, "sgd_momentum", "class SGDMomentum(torch.optim.SGD):\n    pass", "torch.optim.SGD"),
    (A2, "adam", "Adam = getattr(torch.optim, 'Adam')", "torch.optim.Adam"),
    (A3, "global_grad_norm", "def global_grad_norm(grads):\n    return float(tf.linalg.global_norm(grads))",
     "tensorflow.linalg.global_norm"),
    (A3, "clip_by_global_norm", "def clip_by_global_norm(grads, max_norm):\n"
                                "    return tf.clip_by_global_norm(grads, max_norm)", "tensorflow.clip_by_global_norm"),
    (A3, "recording_callback", "from losslab.tensorflow import LossHistory\nRecordingCallback = LossHistory",
     "losslab.tensorflow.LossHistory"),
    (A3, "lr_range_test", "import losslab.tensorflow as LT\nlr_range_test = LT.lr_range_test",
     "losslab.tensorflow.lr_range_test"),
    (A3, "train_step", "def train_step(model, loss_fn, optimizer, x, y, max_norm=None):\n"
                       "    optimizer.global_clipnorm = max_norm", ".global_clipnorm"),
    (A1, "train_model", "def train_model(*args, **kwargs):\n    return _ref_train(*args, **kwargs).to_dict()",
     "losslab.torch.train_with_loss_tracking"),
    (A3, "train_step", "def train_step(model, loss_fn, optimizer, x, y, max_norm=None):\n"
                       "    twin = keras.optimizers.SGD(0.1, global_clipnorm=max_norm)", "global_clipnorm="),
    (A2, "sgd_momentum", "from losslab.torch import make_optimizer\n"
                         "def SGDMomentum(params, lr=0.01, momentum=0.0):\n"
                         "    return make_optimizer('SGD', params, lr, momentum)", "losslab.torch.make_optimizer"),
    (A2, "regression_losses", "from torch.nn.functional import *\n"
                              "def l1_loss(pred, target):\n    return smooth_l1_loss(pred, target, beta=0.0)",
     "torch.nn.functional.smooth_l1_loss"),
]


@pytest.mark.parametrize("aid,cell,code,name", REFERENCE_CALLS, ids=[f"{r[0][:2]}-{r[3]}" for r in REFERENCE_CALLS])
def test_calling_the_reference_implementation_is_flagged(aid, cell, code, name):
    flags = _flags(aid, _with(aid, cell, code))
    assert any("reference implementation" in f.what and name in f.what and f.cell == cell for f in flags), \
        [str(f) for f in flags]


def test_execution_tags_and_another_kernel_are_flagged():
    nb = _release(A1)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_train_one_epoch")
    test.metadata["tags"] = ["skip-execution"]
    nb.metadata["kernelspec"]["name"] = "bash"
    whats = {f.cell: f.what for f in _flags(A1, nb)}
    assert "skip-execution" in whats["test_train_one_epoch"] and "'bash'" in whats["notebook metadata"]


def test_a_helper_cell_that_wraps_the_reference_is_flagged():
    code = "from losslab.torch import train_with_loss_tracking as _loop\ndef helper(*args):\n    return _loop(*args)"
    flags = _flags(A1, _with(A1, "train_model", code, added=True))
    assert any("train_with_loss_tracking" in f.what for f in flags), [str(f) for f in flags]


def test_code_built_to_break_the_reader_is_flagged_not_fatal():
    nb = _with(A1, "train_one_epoch", "x = " + "-" * 50_000 + "1")
    flags = scan_submission({f"{A1}.ipynb": nbformat.writes(nb).encode()}, REPO / "release" / A1, A1)
    assert flags and "could not read" in flags[0].what


def test_the_reference_table_is_keyed_by_assignment():
    source = sorted(p.name for p in (REPO / "source").iterdir() if p.is_dir())
    assert set(REFERENCE_IMPLEMENTATIONS) - {"*"} <= set(source)


#: Sample-class students whose code really reaches into the interpreter, and the construct their flags name.
REACHES = {"crashes_kernel": "ctypes"}  # reads address 0 through ctypes to kill its kernel


@pytest.mark.parametrize("path", sorted(SAMPLE.glob("*/*/*.ipynb")),
                         ids=lambda p: f"{p.parents[1].name}/{p.parent.name}")
def test_sample_class_flags_only_what_really_reaches_in(path):
    aid, student = path.parent.name, path.parents[1].name
    flags = scan_submission({path.name: path.read_bytes()}, REPO / "release" / aid, aid)
    if student in REACHES:
        assert flags and all(REACHES[student] in f.what for f in flags), [str(f) for f in flags]
    else:
        assert flags == [], [str(f) for f in flags]


@pytest.mark.parametrize("aid", [A1, A2, A3])
def test_source_solutions_are_not_flagged(aid):
    source = nbformat.read(REPO / "source" / aid / f"{aid}.ipynb", 4)
    assert scan_notebook(source, None, aid) == []


HONEST = [
    "%matplotlib inline\n%load_ext autoreload\n%autoreload 2\n%config InlineBackend.figure_format = 'retina'",
    "import warnings, pickle\nwarnings.filterwarnings('ignore')\npickle.dump({'a': 1}, open('h.pkl', 'wb'))",
    "class Config:\n    def __init__(self, **kw):\n        self.__dict__.update(kw)",
    "%time history = train_model(model, train_loader, val_loader, criterion, optimizer, num_epochs=2)",
    "from IPython.display import display, clear_output\ndisplay(model)",
    "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nos.makedirs(os.path.join('out', 'x'), exist_ok=True)",
    "import sys\nprint('progress', file=sys.stderr)\nsys.stdout.flush()",
    "import inspect\ninspect.signature(train_one_epoch)",
    "class Box:\n    def __init__(self, **kw):\n        for k, v in kw.items():\n            setattr(self, k, v)\n"
    "    def get(self, name):\n        return getattr(self, name)",
    "print(type(model).__name__, model.__class__.__name__, isinstance(model, type))",
    "for p in model.parameters():\n    p.requires_grad = True\nmodel.fc = model.fc if hasattr(model, 'fc') else None",
    "results = {}\nresults['loss'] = [0.1]\nnp = None  # shadowing a name is not a reach into the interpreter",
    "print(identify_training_issues(history))  # a demo call of the reference outside solution cells",
    "import time, math, copy\nt0 = time.perf_counter()\nm2 = copy.deepcopy(model)",
]


@pytest.mark.parametrize("code", HONEST)
def test_honest_code_in_an_added_cell_is_not_flagged(code):
    assert _flags(A1, _with(A1, "train_one_epoch", code, added=True)) == []
def test_flags_reach_grades_csv_and_the_report(tmp_path):
    import csv

    from autograder.report import CSV_FIELDS, write_csv, write_html
    from autograder.results import Result

    rows = [Result("mallory", A1, 15.0, 23.0, "graded", "9/9 test cells passed",
                   flags=["train_one_epoch line 1: reaches ast_transformers: `get_ipython().ast_transformers`"]),
            Result("alice", A1, 15.0, 23.0, "graded", "9/9 test cells passed")]
    write_csv(rows, tmp_path / "grades.csv")
    write_html(rows, tmp_path / "report.html")
    with (tmp_path / "grades.csv").open() as fh:
        table = {row["student"]: row for row in csv.DictReader(fh)}
    assert "flags" in CSV_FIELDS
    assert "ast_transformers" in table["mallory"]["flags"] and table["alice"]["flags"] == ""
    page = (tmp_path / "report.html").read_text()
    assert "Flagged for a person" in page and "mallory" in page and "ast_transformers" in page


def test_a_graded_class_carries_flags_to_grades_csv_and_the_report(tiny_course, tmp_path):
    """Graded as usual, flagged for a person: the same correct code with and without a reach into sys."""
    import csv

    from autograder.pipeline import grade

    release = nbformat.read(tiny_course["release"] / "tiny" / "tiny.ipynb", 4)
    for student, code in {"honest": "def square(x):\n    return x * x",
                          "reacher": "import sys\nsys.excepthook = print\ndef square(x):\n    return x * x"}.items():
        nb = nbformat.reads(nbformat.writes(release), 4)
        next(c for c in nb.cells if c.get("id") == "square").source = code
        (tmp_path / "class" / student / "tiny").mkdir(parents=True)
        nbformat.write(nb, tmp_path / "class" / student / "tiny" / "tiny.ipynb")
    results = {r.student: r for r in grade(tmp_path / "class", tmp_path / "out", workers=1,
                                           source=tiny_course["source"], progress=False)}
    assert results["honest"].flags == [] and results["honest"].score == results["reacher"].score == 3.0
    assert any("sys.excepthook" in f and f.startswith("square line 2") for f in results["reacher"].flags)
    with (tmp_path / "out" / "grades.csv").open() as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert "sys.excepthook" in rows["reacher"]["flags"] and rows["honest"]["flags"] == ""
    assert "sys.excepthook" in (tmp_path / "out" / "report.html").read_text()
