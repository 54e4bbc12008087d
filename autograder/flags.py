"""Flags for a person: submitted code that reaches into the notebook shell or the interpreter, or that calls the
reference implementation of what the student was asked to write.

Read by static analysis (Python's `ast`, after IPython's own cell transforms), never by running student code.
A flag does not change a grade: it puts the submission in front of an instructor with the cell, the construct
and the line. Names are resolved through imports and aliases (`import torch.nn.functional as F`, `G = F`),
constant strings are folded (`"ex" + "ec"`, `"".join([...])`, `chr(...)`, base64) so that `getattr` with a
built name resolves like plain attribute access, and anything still computed is itself a flag.
"""
from __future__ import annotations

import ast
import base64
import builtins
import codecs
import functools
import importlib.util
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterator

from nbformat import NotebookNode

#: What each assignment asks students to write, as the names that would do it for them: fnmatch patterns over
#: fully resolved names (`tf.keras` reads as `keras`), or ".name" for an attribute of any object. An assignment
#: author edits this table; "*" applies to every assignment.
#: In solution cells any use is flagged; elsewhere a plain top-level call (a demo cell) is not.
REFERENCE_IMPLEMENTATIONS: dict[str, dict[str, str]] = {
    "*": {"losslab.grading*": "losslab's grading helpers"},
    "a1_loss_curves": {
        "losslab.*train_with_loss_tracking": "losslab's training loop",
        "losslab.*compare_learning_rates": "losslab's training loop",
        "losslab.*lr_explorer": "losslab's training loop",
        "losslab.core.loop*": "losslab's training loop",
        "losslab.*identify_training_issues": "losslab's diagnosis",
        "losslab.core.diagnosis*": "losslab's diagnosis",
        "losslab.core.signals*": "losslab's diagnosis (curve signals)",
    },
    "a2_losses_optimizers": {
        "torch.*_loss": "a torch loss function",
        "torch.*Loss": "a torch loss module",
        "torch.*cross_entropy*": "torch's cross-entropy",
        "torch.optim": "torch.optim",
        "torch.optim.*": "torch.optim",
        "torch.*adam*": "torch's Adam kernels",
        "torch.*sgd*": "torch's SGD kernels",
        "losslab.*make_optimizer": "losslab's optimizer factory (torch.optim)",
    },
    "a3_gradients_lr": {
        ".global_clipnorm": "Keras' own global clipping",
        "tensorflow.*global_norm*": "TensorFlow's global norm / clipping",
        "keras.*global_norm*": "Keras' global norm / clipping",
        "losslab.*global_grad_norm": "losslab's global norm",
        "losslab.*range_test*": "losslab's LR range test",
        "losslab.*LossHistory": "losslab's Keras callback",
        "losslab.core.loop*": "losslab's record keeping",
    },
    "a4_curve_clinic": {
        "losslab.*sanity_check": "losslab's sanity check",
        "losslab.core.sanity*": "losslab's sanity check",
    },
}

#: Modules whose use reaches into the interpreter, the shell or the machine, with the attributes that do not.
#: A resolved name under one of these (longest prefix wins) is flagged unless its next part is allowed.
MODULES: dict[str, tuple[str, frozenset[str]]] = {
    name: (why, frozenset(allowed)) for names, why, allowed in [
        (("ctypes", "_ctypes", "cffi", "mmap", "numpy.ctypeslib"), "ctypes (raw memory and C calls)", ()),
        (("linecache", "traceback"), "the source of other cells (hidden tests) and their frames",
         ("print_exc", "format_exc")),
        (("gc",), "gc (walks every live object)", ("collect",)),
        (("inspect",), "inspect (frames and live objects)", ("signature", "Parameter", "isclass", "isfunction")),
        (("sys",), "sys (the interpreter's state)",
         ("version", "version_info", "platform", "float_info", "int_info", "maxsize", "byteorder", "getsizeof",
          "getrecursionlimit", "stdout", "stderr")),
        (("os",), "os (processes and the shell)",
         ("path", "getcwd", "listdir", "scandir", "walk", "makedirs", "mkdir", "cpu_count", "sep", "linesep",
          "environ", "getenv", "getpid", "urandom", "fspath", "PathLike", "stat", "remove", "unlink", "rename",
          "replace", "rmdir", "name", "devnull", "curdir", "pardir", "pathsep")),
        (("builtins", "__builtin__", "__main__"), "builtins / __main__ (the interpreter's namespaces)", ()),
        (("importlib", "imp", "pkgutil", "zipimport", "runpy", "site", "sitecustomize", "usercustomize"),
         "import machinery", ()),
        (("subprocess", "pty", "pexpect", "multiprocessing", "posix", "_posixsubprocess", "socket", "ssl",
          "concurrent.futures.process", "concurrent.futures.ProcessPoolExecutor", "urllib.request", "http.client",
          "requests"), "processes, the shell or the network", ()),
        (("signal", "atexit", "faulthandler", "resource", "threading", "_thread", "asyncio", "sched"),
         "code that runs later or outside the cell (threads, signals, exit hooks, the event loop)", ()),
        (("IPython", "ipykernel", "traitlets", "jupyter_client", "jupyter_core", "zmq", "tornado", "nbformat",
          "nbclient", "nbconvert", "nbgrader", "comm"), "the notebook shell or kernel", ("display",)),
        (("ast", "dis", "code", "codeop", "marshal", "types", "pdb", "bdb", "trace", "profile", "cProfile",
          "doctest"), "code objects, transformers and tracers",
         ("SimpleNamespace",)),
        (("base64", "codecs", "zlib", "bz2", "lzma", "binascii", "copyreg", "shelve"), "decoding hidden data", ()),
        (("pickle", "dill", "cloudpickle"), "unpickling (runs code from data)",
         ("dump", "dumps", "HIGHEST_PROTOCOL", "DEFAULT_PROTOCOL")),
        (("unittest.mock", "mock"), "mock patching", ()),
        (("autograder",), "the grader's own code", ()),
        (("weakref",), "code that runs later (finalizers)", ("ref", "WeakKeyDictionary", "WeakValueDictionary")),
        (("timeit",), "timeit (runs code given as a string)", ("default_timer",)),
        (("torch._C", "torch.library", "torch.overrides", "torch._dynamo", "torch.ops", "tensorflow.python",
          "torch.nn.modules.module"), "framework internals (global hooks, operator overrides)", ()),
    ] for name in names
}

#: Modules reached as an attribute of another (`torch.os`, `np.sys`) are read as themselves.
REACHED_MODULES = frozenset({"sys", "os", "builtins", "ctypes", "gc", "inspect", "importlib", "subprocess", "IPython",
                             "ipykernel", "__main__"})
#: Cell tags that change how nbclient runs a cell: a skipped or error-tolerant test cell scores as passed.
EXECUTION_TAGS = frozenset({"skip-execution", "raises-exception"})

#: Builtins that run code from strings, reach namespaces or end the kernel.
BUILTINS = {"exec": "exec of code in a string", "eval": "eval of code in a string",
            "compile": "compile of code in a string", "__import__": "__import__", "globals": "globals()",
            "breakpoint": "breakpoint()", "exit": "exit()", "quit": "quit()", "__build_class__": "__build_class__"}

#: Attribute names that reach frames, code, namespaces or the IPython shell, whatever object they are read from.
ATTRIBUTES = frozenset({
    "__globals__", "__code__", "__closure__", "__builtins__", "__subclasses__", "__bases__", "__base__", "__mro__",
    "__dict__", "__getattribute__", "__setattr__", "__delattr__", "__import__", "__loader__", "__spec__",
    "__defaults__", "__kwdefaults__", "__self__", "__func__", "__reduce__", "__reduce_ex__", "__traceback__",
    "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "tb_frame", "gi_frame", "cr_frame", "ag_frame",
    "co_code", "co_consts", "__array_interface__", "__array_struct__", "input_transformers_cleanup",
    "input_transformers_post", "input_transformer_manager", "ast_transformers", "run_cell", "run_cell_async",
    "run_ast_nodes", "run_code", "showtraceback",
    "_showtraceback", "showsyntaxerror", "set_custom_exc", "custom_exceptions", "user_ns", "user_global_ns",
    "history_manager", "magics_manager", "register_magic_function", "transform_cell", "prefilter_manager",
    "display_pub", "displayhook", "excepthook", "system_piped", "system_raw", "getoutput", "events",
})

#: What a class defines to fake a value in a comparison, to run code at unexpected times, or to hand numpy a raw
#: memory address.
FAKING_METHODS = frozenset({
    "__array_interface__", "__array_struct__", "__cuda_array_interface__", "__array_finalize__", "__array_wrap__",
    "__class__",
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__float__", "__int__", "__index__",
    "__abs__", "__array__", "__array_ufunc__", "__array_function__", "__torch_function__", "__torch_dispatch__",
    "__instancecheck__", "__subclasscheck__", "__getattribute__", "__del__", "__init_subclass__", "__reduce__",
    "__reduce_ex__", "__setstate__",
})

#: IPython's history and exit names: In/_ih hold every cell run so far (the hidden tests included).
IPYTHON_NAMES = re.compile(r"^(In|Out|_ih|_oh|_dh|_i+|_i\d+|__IPYTHON__)$")
#: Magics that only time, capture, list, install or configure plotting (True: their argument is code, read like
#: a cell); `%load_ext autoreload` and `%config InlineBackend.*` too, by their argument.
SAFE_MAGICS = {"matplotlib": False, "time": True, "timeit": True, "capture": True, "pprint": False,
               "precision": False, "env": False, "pip": False, "conda": False, "html": False, "markdown": False,
               "latex": False, "who": False, "whos": False, "autoreload": False}
SAFE_MAGIC_ARGS = {"load_ext": re.compile(r"autoreload\s*$"), "config": re.compile(r"InlineBackend\.\w+\s*=")}
#: Text that names a way in, inside a string (format strings and built names reach attributes too).
SUSPECT_TEXT = re.compile(r"/proc/|/dev/mem|\.py\b|\b(?:sitecustomize|usercustomize|get_ipython|sys\.modules|ctypes|"
                          r"losslab\.grading|" + "|".join(re.escape(a) for a in sorted(ATTRIBUTES) if "_" in a)
                          + r")\b")
MAX_FLAGS = 12


@dataclass(frozen=True)
class Flag:
    """One construct in one cell, for an instructor to read."""
    cell: str
    line: int
    what: str
    quote: str
    notebook: str = ""

    def __str__(self) -> str:
        where = f"{self.notebook} " if self.notebook else ""
        return f"{where}{self.cell} line {self.line}: {self.what}: `{self.quote}`"


def describe(flags: list[Flag]) -> list[str]:
    """The flags as lines for grades.csv and the report, at most MAX_FLAGS of them."""
    lines = [str(f) for f in flags[:MAX_FLAGS]]
    if len(flags) > MAX_FLAGS:
        lines.append(f"... and {len(flags) - MAX_FLAGS} more")
    return lines


def scan_submission(files: dict[str, bytes], release: Path, assignment: str) -> list[Flag]:
    """Flags of every notebook handed in for an assignment, each read against its released version in release/."""
    from .checks import Unreadable, read_notebook

    expected = sorted(p.name for p in Path(release).glob("*.ipynb"))
    handed = sorted(name for name in files if name.endswith(".ipynb"))
    out: list[Flag] = []
    for name in handed:
        target = name if name in expected else (expected[0] if len(expected) == 1 == len(handed) else None)
        if target is None:
            continue  # not graded, so not run
        try:
            submitted = read_notebook(files[name])
        except Unreadable:
            continue
        import nbformat

        released = nbformat.read(Path(release) / target, 4)
        label = "" if target == f"{assignment}.ipynb" else target
        try:
            out += scan_notebook(submitted, released, assignment, label)
        except (RecursionError, MemoryError, ValueError, TypeError) as exc:  # e.g. nesting built to break a reader
            out.append(Flag("notebook", 1, f"the flag scanner could not read it ({type(exc).__name__})", name, label))
    return out


def scan_notebook(submitted: NotebookNode, released: NotebookNode | None, assignment: str,
                  notebook: str = "") -> list[Flag]:
    """Flags of one submitted notebook. Cells nbgrader restores (locked cells, by grade_id) and cells identical to
    a released one are the instructor's: read for their imports only. Without a release, metadata decides."""
    units = list(_units(submitted, released))
    scanner = _Scanner(_patterns(assignment), notebook)
    _metadata(submitted, released, scanner)
    for _, _, tree, _ in units:
        scanner.bind_globals(tree)
    for label, kind, tree, lines in units:
        if kind != "instructor":
            scanner.scan(tree, label, kind == "solution", lines)
    return scanner.flags


def _metadata(submitted: NotebookNode, released: NotebookNode | None, scanner: "_Scanner") -> None:
    """A kernel other than the release's, and cell tags that make nbclient skip a cell or ignore its error."""
    theirs = submitted.metadata.get("kernelspec", {}).get("name")
    ours = (released.metadata.get("kernelspec", {}).get("name") if released is not None else None) or "python3"
    if theirs not in (None, ours):
        scanner.flags.append(Flag("notebook metadata", 1, f"asks for kernel {theirs!r} (released: {ours!r})",
                                  f"kernelspec.name = {theirs!r}", scanner.notebook))
    for index, cell in enumerate(submitted.cells):
        tags = EXECUTION_TAGS & set(cell.get("metadata", {}).get("tags", []))
        if tags:
            label = _meta(cell).get("grade_id") or f"cell {index + 1}"
            scanner.flags.append(Flag(label, 1, f"cell tagged {', '.join(sorted(tags))} (nbclient skips the cell "
                                      "or ignores its error)", f"tags = {sorted(tags)}", scanner.notebook))


def _patterns(assignment: str) -> dict[str, str]:
    return {**REFERENCE_IMPLEMENTATIONS["*"], **REFERENCE_IMPLEMENTATIONS.get(assignment, {})}


def _meta(cell: Any) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _units(submitted: NotebookNode, released: NotebookNode | None) -> Iterator[tuple[str, str, ast.Module, list[str]]]:
    """(cell label, 'instructor' | 'solution' | 'student', parsed code, source lines) of every code cell that runs."""
    by_id = {_meta(c).get("grade_id"): c for c in (released.cells if released else []) if _meta(c).get("grade_id")}
    instructor = {c.source for c in (released.cells if released else []) if c.cell_type == "code"}
    for index, cell in enumerate(submitted.cells):
        if cell.cell_type != "code":
            continue
        meta = _meta(cell)
        grade_id = meta.get("grade_id")
        label = grade_id or f"cell {index + 1}"
        source = cell.source
        if released is not None:
            origin = by_id.get(grade_id)
            if origin is not None and origin.cell_type != "code":
                continue  # nbgrader turns it back into the released markdown: it never runs
            solution = origin is not None and bool(_meta(origin).get("solution"))
            if origin is not None and _meta(origin).get("locked"):
                source, kind = origin.source, "instructor"  # nbgrader puts the released cell back
            else:
                kind = "solution" if solution else "instructor" if source in instructor else "student"
        else:
            kind = "instructor" if meta.get("locked") else "solution" if meta.get("solution") else "student"
        tree, lines = _parse(source)
        if tree is not None:
            yield label, kind, tree, lines


def _parse(source: str) -> tuple[ast.Module | None, list[str]]:
    """A cell as Python, after IPython's transforms (magics and `!cmd` become get_ipython() calls)."""
    try:
        return _ast(source), source.splitlines()
    except SyntaxError:
        pass
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        text = TransformerManager().transform_cell(source)
        tree = _ast(text)
    except (SyntaxError, ValueError):
        return None, []  # a cell that does not parse does not run
    lines = source.splitlines()
    return tree, lines if len(lines) == len(text.splitlines()) else text.splitlines()


def _ast(text: str) -> ast.Module:
    """Parsed as IPython compiles a cell: top-level `await` allowed."""
    return compile(text, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


def _fold(node: ast.AST | None) -> str | None:
    """The value of an expression that only builds a string from constants, else None."""
    if isinstance(node, ast.Constant):
        value = node.value
        return value if isinstance(value, str) else value.decode("latin-1") if isinstance(value, bytes) else None
    if isinstance(node, ast.JoinedStr):
        parts = [_fold(v.value if isinstance(v, ast.FormattedValue) else v) for v in node.values]
        return None if None in parts else "".join(parts)  # type: ignore[arg-type]
    if isinstance(node, ast.BinOp):
        left, right = _fold(node.left), _fold(node.right)
        if isinstance(node.op, ast.Add) and left is not None and right is not None:
            return left + right
        if isinstance(node.op, ast.Mult) and isinstance(node.right, ast.Constant) and isinstance(node.right.value, int):
            return None if left is None else left * node.right.value
        return None
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        base = _fold(node.value)
        bounds = [_int(b) if b is not None else None for b in (node.slice.lower, node.slice.upper, node.slice.step)]
        parts = [b for b, given in zip(bounds, (node.slice.lower, node.slice.upper, node.slice.step)) if given]
        return None if base is None or None in parts or bounds[2] == 0 else base[slice(*bounds)]
    if not isinstance(node, ast.Call):
        return None
    func, first = node.func, (node.args[0] if node.args else None)
    if isinstance(func, ast.Name):
        parts = _pieces(node)
        return None if parts is None else "".join(parts)
    if not isinstance(func, ast.Attribute):
        return None
    if func.attr == "join":
        sep, parts = _fold(func.value), _pieces(first)
        return None if sep is None or parts is None else sep.join(parts)
    text = _fold(first)
    try:
        if func.attr in ("b64decode", "decodebytes", "urlsafe_b64decode") and text is not None:
            return base64.b64decode(text.encode("latin-1")).decode("latin-1")
        if func.attr == "fromhex" and text is not None:
            return bytes.fromhex(text).decode("latin-1")
        if func.attr == "decode" and isinstance(func.value, ast.Name) and text is not None and len(node.args) > 1:
            return codecs.decode(text, str(_fold(node.args[1])))
    except (ValueError, LookupError, TypeError):
        return None
    inner = _fold(func.value)
    args = [_fold(a) for a in node.args]
    if inner is None or None in args:
        return None
    try:
        if func.attr in ("lower", "upper", "strip", "replace", "format"):
            return getattr(inner, func.attr)(*args)
    except (IndexError, KeyError, ValueError, TypeError):
        return None
    return inner if func.attr in ("decode", "encode") else None


def _pieces(node: ast.AST | None) -> list[str] | None:
    """The strings a join would glue: a list or tuple of foldables, a string, chr/map(chr)/reversed/str/bytes."""
    if isinstance(node, (ast.List, ast.Tuple)):
        parts = [_fold(e) for e in node.elts]
        return None if None in parts else parts  # type: ignore[return-value]
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
        text = _fold(node)
        return None if text is None else list(text)
    name, first = node.func.id, node.args[0]
    if name == "chr":
        code = _int(first)
        return [chr(code)] if code is not None and 0 <= code < 0x110000 else None
    if name == "map" and len(node.args) == 2 and isinstance(first, ast.Name) and first.id == "chr":
        codes = [_int(e) for e in getattr(node.args[1], "elts", [None])]
        return None if None in codes or not all(0 <= c < 0x110000 for c in codes) else [chr(c) for c in codes]
    if name in ("reversed", "str", "bytes", "list", "tuple"):
        if name == "bytes" and isinstance(first, (ast.List, ast.Tuple)):
            codes = [_int(e) for e in first.elts]
            return None if None in codes or not all(0 <= c < 256 for c in codes) else [chr(c) for c in codes]
        parts = _pieces(first)
        return None if parts is None else (parts[::-1] if name == "reversed" else parts)
    return None


def _int(node: ast.AST) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int(node.operand)
        return None if inner is None else -inner
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


@functools.lru_cache(maxsize=None)
def _installed(top: str) -> bool:
    try:
        return top in __import__("sys").builtin_module_names or importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _canonical(name: str) -> str:
    return "keras." + name[len("tensorflow.keras."):] if name.startswith("tensorflow.keras.") else name


class _Scanner(ast.NodeVisitor):
    """Resolves names through imports and aliases (over the whole notebook, order-insensitively) and records
    what each student cell does that a person should see."""

    def __init__(self, references: dict[str, str], notebook: str) -> None:
        self.references, self.notebook = references, notebook
        self.globals: dict[str, set[str]] = {}
        self.stars: set[str] = set()  # modules star-imported anywhere: an unbound name may come from them
        self.scopes: list[dict[str, set[str]]] = []
        self.flags: list[Flag] = []
        self._seen: set[tuple[str, str]] = set()
        self._callees: set[int] = set()
        self._docstrings: set[int] = set()
        self._cell, self._solution, self._lines, self._line, self._depth = "", False, [], None, 0

    # --- names -------------------------------------------------------------------------------------------------
    def bind_globals(self, tree: ast.Module) -> None:
        """Module-level bindings (imports and aliases), twice so that an alias of an alias resolves."""
        for _ in range(2):
            for stmt in _module_level(tree):
                self._bind(stmt, self.globals)
        for node in _module_level(tree):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                self.globals.setdefault(node.id, set())
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.globals.setdefault(node.name, set())

    def _bind(self, node: ast.AST, table: dict[str, set[str]]) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    table.setdefault(alias.asname, set()).add(_canonical(alias.name))
                else:
                    top = alias.name.split(".")[0]
                    table.setdefault(top, set()).add(top)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name == "*":
                    self.stars.add(_canonical(node.module))
                else:
                    table.setdefault(alias.asname or alias.name, set()).add(_canonical(f"{node.module}.{alias.name}"))
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                pairs = (zip(target.elts, node.value.elts) if isinstance(target, (ast.Tuple, ast.List))
                         and isinstance(node.value, (ast.Tuple, ast.List)) and len(target.elts) == len(node.value.elts)
                         else [(target, node.value)])
                for name, value in pairs:
                    if isinstance(name, ast.Name):
                        table.setdefault(name.id, set()).update(self._resolve(value))

    def _lookup(self, name: str) -> set[str] | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return self.globals.get(name)

    def _resolve(self, node: ast.AST) -> set[str]:
        """Every fully qualified name this expression may denote ('<builtin>.x' for an unbound builtin)."""
        if isinstance(node, ast.Name):
            found = self._lookup(node.id)
            if found is not None:
                return set(found)
            if node.id == "__builtins__":
                return {"builtins"}
            if hasattr(builtins, node.id):
                return {f"<builtin>.{node.id}"}
            return {f"{module}.{node.id}" for module in self.stars}
        if isinstance(node, ast.Attribute):
            return {_canonical(f"{base}.{node.attr}") for base in self._resolve(node.value)}
        if isinstance(node, ast.Call) and self._builtin(node.func) == "getattr" and len(node.args) >= 2:
            name = _fold(node.args[1])
            return {_canonical(f"{b}.{name}") for b in self._resolve(node.args[0])} if name else set()
        return set()

    def _builtin(self, node: ast.AST) -> str | None:
        """'exec' for `exec`, `builtins.exec`, `__builtins__.exec`; None for anything else."""
        for name in self._resolve(node):
            for prefix in ("<builtin>.", "builtins."):
                if name.startswith(prefix) and "." not in name[len(prefix):]:
                    return name[len(prefix):]
        return None

    # --- recording ---------------------------------------------------------------------------------------------
    def scan(self, tree: ast.Module, cell: str, solution: bool, lines: list[str]) -> None:
        self._cell, self._solution, self._lines = cell, solution, lines
        self.visit(tree)

    def _flag(self, node: ast.AST, what: str, key: str | None = None) -> None:
        """Once per cell and construct (key: one module's uses count as one construct)."""
        if (self._cell, key or what) in self._seen:
            return
        self._seen.add((self._cell, key or what))
        line = self._line or getattr(node, "lineno", 1)
        quote = self._lines[line - 1].strip() if 0 < line <= len(self._lines) else ast.unparse(node)
        self.flags.append(Flag(self._cell, line, what, quote if len(quote) <= 100 else quote[:97] + "...",
                               self.notebook))

    def _nested(self, node: ast.AST, code: str | None) -> None:
        """Code given as a string (exec of a literal, a magic's body): read like a cell, reported at node's line."""
        if not code:
            return
        tree, _ = _parse(code)
        if tree is not None:
            outer, self._line = self._line, self._line or node.lineno
            self.bind_globals(tree)
            self.visit(tree)
            self._line = outer

    @staticmethod
    def _reached(names: set[str]) -> set[str]:
        """`torch.os.system` read as `os.system`: a module reached through another one's attributes."""
        out = set()
        for name in names:
            parts = name.split(".")
            out.update(".".join(parts[i:]) for i in range(1, len(parts)) if parts[i] in REACHED_MODULES)
        return out

    def _check_name(self, node: ast.AST, names: set[str], references: bool = True) -> None:
        """Module policy and reference implementations for a resolved name (a bare module is fine where some of
        its attributes are: the attribute then decides)."""
        for name in sorted(names | self._reached(names)):
            module = max((m for m in MODULES if name == m or name.startswith(m + ".")), key=len, default=None)
            if module is not None:
                why, allowed = MODULES[module]
                rest = name[len(module) + 1:].split(".")[0] if name != module else ""
                if rest not in allowed and (rest or not allowed):
                    self._flag(node, f"{why}: {name}", key=module)
            for pattern, what in self.references.items() if references else ():
                if fnmatchcase(name, pattern):
                    demo = not self._solution and self._depth == 0 and id(node) in self._callees
                    if not demo:
                        self._flag(node, f"uses the reference implementation ({what}): {name}")

    # --- visitors ----------------------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._import(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            self._flag(node, "relative import (code from a file next to the notebook)")
            return
        self._import(node, node.module)
        for alias in node.names:
            full = _canonical(f"{node.module}.{alias.name}")
            if alias.name == "*":
                self._check_name(node, {_canonical(node.module)}, references=False)
            else:
                self._check_name(node, {full}, references=False)  # a reference is flagged where it is used

    def _import(self, node: ast.AST, module: str) -> None:
        if not _installed(module.split(".")[0]):
            self._flag(node, f"imports {module}, which the grading environment does not have (a module the "
                             "submission wrote itself?)")
        self._check_name(node, {_canonical(module)}, references=False)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            if node.id == "__builtins__":
                self._flag(node, "rebinds __builtins__")
            return
        if self._lookup(node.id) is None:
            if node.id == "get_ipython":
                self._flag(node, "get_ipython() (the notebook shell's internals)")
            elif IPYTHON_NAMES.match(node.id):
                self._flag(node, f"IPython's history or shell name {node.id}")
        builtin = self._builtin(node)
        if builtin in BUILTINS:
            self._flag(node, BUILTINS[builtin])
        elif builtin in ("getattr", "setattr", "delattr", "vars") and id(node) not in self._callees:
            self._flag(node, f"{builtin} passed as a value")
        self._check_name(node, self._resolve(node) - {f"<builtin>.{node.id}"})

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._patched(node)
        chain: ast.AST = node
        while isinstance(chain, ast.Attribute):  # a resolved chain is not descended into: check each of its names
            own = chain.attr == "__dict__" and isinstance(chain.value, ast.Name) and chain.value.id == "self"
            stored_class = chain.attr == "__class__" and not isinstance(node.ctx, ast.Load)
            if (chain.attr in ATTRIBUTES and not own) or stored_class:
                self._flag(node, f"reaches {chain.attr}")
            if f".{chain.attr}" in self.references:
                self._flag(node, f"uses the reference implementation ({self.references['.' + chain.attr]}): "
                                 f".{chain.attr}")
            chain = chain.value
        names = self._resolve(node)
        if names and not any(n.startswith("<builtin>.") for n in names):
            builtin = self._builtin(node)
            if builtin in BUILTINS:
                self._flag(node, BUILTINS[builtin])
            self._check_name(node, names)
        else:
            self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, (str, bytes)) and id(node) not in self._docstrings:
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            found = SUSPECT_TEXT.search(text)
            if found:
                self._flag(node, f"a string names {found.group(0)}")

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self._string(node)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._string(node)
        self.generic_visit(node)

    def _string(self, node: ast.AST) -> None:
        text = _fold(node)
        found = SUSPECT_TEXT.search(text) if text else None
        if found:
            self._flag(node, f"a built string names {found.group(0)}")

    def visit_Call(self, node: ast.Call) -> None:
        self._callees.add(id(node.func))
        if self._magic(node):
            return
        builtin = self._builtin(node.func)
        if builtin in ("exec", "eval", "compile") and node.args:
            code = _fold(node.args[0])
            if code is None:
                self._flag(node, f"{builtin} of a string built at run time")
            self._nested(node, code)
        elif builtin in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
            self._attribute_call(node, builtin)
        elif builtin == "locals" and self._depth == 0:
            self._flag(node, "locals() at the top level (the notebook's namespace dict)")
        elif builtin == "vars" and node.args:
            self._flag(node, "vars() of an object (its namespace dict)")
        elif builtin == "type" and len(node.args) == 3:
            self._flag(node, "type() building a class at run time")
        elif self._resolve(node.func) & {"operator.attrgetter", "operator.methodcaller"}:
            parts = [_fold(a) for a in (node.args[:1] if "methodcaller" in ast.unparse(node.func) else node.args)]
            if None in parts or any(p in ATTRIBUTES for text in parts for p in str(text).split(".")):
                self._flag(node, "operator.attrgetter/methodcaller with a computed or hidden name")
        for keyword in node.keywords:
            if f".{keyword.arg}" in self.references:
                self._flag(node, f"uses the reference implementation ({self.references['.' + keyword.arg]}): "
                                 f"{keyword.arg}=")
            unpickles = (("allow_pickle", True), ("weights_only", False))
            if (keyword.arg, getattr(keyword.value, "value", None)) in unpickles:
                self._flag(node, f"{keyword.arg}={keyword.value.value} (unpickling runs code from data)")
        self.generic_visit(node)

    def _attribute_call(self, node: ast.Call, builtin: str) -> None:
        target, name = node.args[0], _fold(node.args[1])
        is_self = isinstance(target, ast.Name) and target.id in ("self", "cls")
        if name is None:
            if not is_self and builtin != "hasattr":
                self._flag(node, f"{builtin} with a computed name")
            return
        ctx = ast.Load() if builtin in ("getattr", "hasattr") else ast.Store()
        self.visit_Attribute(ast.copy_location(ast.Attribute(value=target, attr=name, ctx=ctx), node))

    def _magic(self, node: ast.Call) -> bool:
        """get_ipython().run_line_magic / run_cell_magic / system: `%time` reads its code, `!cmd` is a shell."""
        func = node.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call)
                and isinstance(func.value.func, ast.Name) and func.value.func.id == "get_ipython"
                and self._lookup("get_ipython") is None):
            return False
        args = [_fold(a) for a in node.args]
        if func.attr in ("system", "getoutput"):
            self._flag(node, "shell command (!cmd)")
            return True
        if func.attr not in ("run_line_magic", "run_cell_magic") or not args or args[0] is None:
            return False
        name = args[0]
        argument = args[1] if len(args) > 1 and args[1] is not None else ""
        if name in SAFE_MAGIC_ARGS and SAFE_MAGIC_ARGS[name].match(argument.strip()):
            return True
        if name not in SAFE_MAGICS:
            self._flag(node, f"IPython magic %{name}")
            return True
        if SAFE_MAGICS[name]:
            for code in args[1:]:
                self._nested(node, re.sub(r"^\s*(-\w+(\s+\d+)?\s+)*", "", code or "") or None)
        return True

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._patched(node)
        self.generic_visit(node)

    def _patched(self, target: ast.Attribute | ast.Subscript) -> None:
        """A store or delete (any statement: =, +=, del, for, with) into an imported module, a library class, or
        a class reached through an instance."""
        base = target.value
        owners = {n for n in self._resolve(base) if not n.startswith("<builtin>.")} or (
            {n for n in self._resolve(base)} if isinstance(target, ast.Attribute) else set())
        if owners and owners != {"os.environ"}:
            shown = ast.unparse(target)
            self._flag(target, f"monkeypatches {shown} (assigns into {sorted(owners)[0]})")
        elif (isinstance(base, ast.Call) and self._builtin(base.func) == "type") or (
                isinstance(base, ast.Attribute) and base.attr == "__class__"):
            self._flag(target, f"patches a class through an instance: {ast.unparse(target)}")

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if exc is not None and self._builtin(exc) in ("SystemExit", "KeyboardInterrupt", "GeneratorExit"):
            self._flag(node, f"raises {self._builtin(exc)} (ends the run early)")
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for stmt in node.body:
            names = [stmt.name] if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) else [
                t.id for t in (stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)])
                if isinstance(t, ast.Name)]
            for name in set(names) & FAKING_METHODS:
                self._flag(stmt, f"class {node.name} defines {name} (a value that can fake a comparison, run code "
                                 "at another time or point at raw memory)")
        self._scoped(node, node.body, [])

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        a = node.args
        params = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)] + [
            p.arg for p in (a.vararg, a.kwarg) if p is not None]
        body = node.body if isinstance(node.body, list) else [ast.Expr(node.body)]
        if not isinstance(node, ast.Lambda):
            for deco in node.decorator_list:
                self.visit(deco)
        for default in [*a.defaults, *[d for d in a.kw_defaults if d is not None]]:
            self.visit(default)
        self._scoped(node, body, params)

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def _scoped(self, node: ast.AST, body: list[ast.stmt], params: list[str]) -> None:
        scope: dict[str, set[str]] = {p: set() for p in params}
        for stmt in body:
            for inner in ast.walk(stmt):
                if isinstance(inner, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.NamedExpr)):
                    self._bind(inner, scope)
                elif isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                    scope.setdefault(inner.id, set())
        if isinstance(node, ast.ClassDef):
            for base in [*node.bases, *[k.value for k in node.keywords]]:
                self.visit(base)
            for deco in node.decorator_list:
                self.visit(deco)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            self._docstrings.add(id(body[0].value))
        self.scopes.append(scope)
        self._depth += 1
        for stmt in body:
            self.visit(stmt)
        self._depth -= 1
        self.scopes.pop()

    def visit_Module(self, node: ast.Module) -> None:
        if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            self._docstrings.add(id(node.body[0].value))
        self.generic_visit(node)


def _module_level(tree: ast.Module) -> Iterator[ast.AST]:
    """Statements that bind module-level names: everything outside function and class bodies."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop(0)
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))
