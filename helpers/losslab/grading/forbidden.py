"""Whether a student's function or class uses what an assignment forbids, read from the notebook's own cells.

"Write the formula yourself, do not call torch.nn.functional's losses" cannot be graded from values: the values
match either way. `assert_avoids` reads the code instead: the cell that defines the function (all of it, so a
helper or a module-level alias beside the def counts), and, for every global name that code reads, the statement
that last binds it in any cell (an import cell, a helper in another cell), transitively. Names are resolved
through imports and assignments (``import torch.nn.functional as F``, ``from torch.optim import SGD``,
``opt = torch.optim``, ``getattr(torch, "optim")``, ``importlib.import_module("torch.optim")``,
``sys.modules["torch.optim"]``, code in a literal string given to exec/eval, ``from m import *``) and, where the
framework is imported, by identity (``tf.compat.v1.clip_by_global_norm`` is ``tf.clip_by_global_norm``).

Where the cells come from: in the autograder's verdict kernel, the student's function is a stand-in whose type
has ``__lsbx_cells__``: the grader's own copy of the submitted notebook's cells (what the student kernel ran),
which no student code can rewrite. In a student's own notebook, the kernel's input history (the latest run of
each cell counts). A name computed at run time (``getattr(F, name)`` with a variable) cannot be read; this
catches the ways of writing a call, not every way of hiding one.
"""
from __future__ import annotations

import ast
import builtins
import importlib
import linecache
import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["assert_avoids"]

#: IPython's own names for outputs and inputs (_, __, _5, _i5, In, Out): never where a student defines code.
_IPYTHON_NAME = re.compile(r"^(_+\d*|_i+\d*|_ih|_oh|_dh|In|Out)$")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class _Statement:
    """One top-level statement of one cell, as parsed after IPython's cell transforms."""

    cell: str
    node: ast.stmt


def assert_avoids(fn: Any, forbidden: str | Iterable[str], rule: str, *, allow: Iterable[str] = ()) -> None:
    """Fail, naming what was found and the rule, if the code that defines ``fn`` uses a forbidden name.

    ``forbidden``: importable dotted names (``"torch.optim"``, ``"tensorflow.clip_by_global_norm"``); a use of
    the name itself or of anything under it counts, as does an object identical to it or, for a module, any
    function or class defined in it. ``allow``: dotted names under a forbidden one that stay allowed
    (``"torch.optim.Optimizer"`` to let a class subclass it). ``rule``: the assignment's words, shown on failure.
    """
    forbidden = [forbidden] if isinstance(forbidden, str) else list(forbidden)
    if not forbidden or not rule:
        raise ValueError("assert_avoids needs at least one forbidden name and the rule's words")
    banned = {name: _import_object(name) for name in forbidden}
    allowed = {name: _import_object(name) for name in allow}
    names, cells = _source_of(fn)
    statements = [s for label, source in cells for s in _statements(label, source)]
    what = names[0] if names else getattr(fn, "__name__", repr(fn))
    if not callable(getattr(fn, "__lsbx_cells__", None)) and any(fn is obj for obj in banned.values()):
        raise AssertionError(f"{what} is {_qualname(fn)} itself: {rule}")
    chosen = _defining_statements(names, statements)
    if not chosen:
        raise AssertionError(f"{what}: no cell of the notebook defines it (with def, class or =), so what it uses "
                             f"cannot be checked: {rule}")
    resolver = _Resolver(chosen, statements)
    for found, written, where in resolver.uses():
        hit = _match(found, banned, allowed)
        if hit is not None:
            shown = written if found in (hit, written) else f"{found} as {written}"
            raise AssertionError(f"{what} uses {hit} ({shown}, {where}): {rule}")


def _source_of(fn: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """(the names fn is bound to, [(cell label, source)] of the cells that ran, in order)."""
    served = getattr(type(fn), "__lsbx_cells__", None)
    if served is not None:  # the verdict kernel: the grader's copy of the submitted notebook
        name, cells = served(fn)
        return [str(name)], [(str(label), str(source)) for label, source in cells]
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("assert_avoids reads the notebook's cells: run it in a notebook (an IPython kernel)")
    bound = [k for k, v in list(shell.user_ns.items()) if v is fn and not _IPYTHON_NAME.match(k)]
    # A test cell's private loop variable (`for _f in (mse_loss, ...)`) is bound to fn too: its own names first.
    names = [k for k in bound if not k.startswith("_")] or bound
    own = getattr(fn, "__name__", None)
    if own and own not in names:
        names.append(own)
    history = [(f"In [{i}]", source) for i, source in enumerate(shell.history_manager.input_hist_parsed) if i]
    if not any(source.strip() for _, source in history):
        # Cells run without history (nbval, papermill): IPython still caches each cell's code for tracebacks.
        history = [(f"cell {i}", "".join(linecache.getlines(name)))
                   for i, name in enumerate(shell.compile._filename_map, start=1)]
    return names, [(label, source) for label, source in history if source.strip()]


def _statements(label: str, source: str) -> list[_Statement]:
    """The cell's top-level statements after IPython's transforms (magics become calls); none if it is not Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        source = TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - what IPython cannot transform, Python parses or refuses below
        pass
    tree = _parse(source)
    return [] if tree is None else [_Statement(label, node) for node in tree.body]


def _parse(code: str) -> ast.Module | None:
    """The code's tree, or None where it is not Python (then it did not run either); silent, since a warning on
    stderr (an invalid escape in the student's string) would fail the test cell."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(code)
        except (SyntaxError, ValueError):
            return None


def _children(node: ast.AST) -> Iterator[ast.AST]:
    """Child nodes, plus the code in a literal string given to exec, eval or compile."""
    yield from ast.iter_child_nodes(node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("exec", "eval", "compile") \
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        tree = _parse(node.args[0].value)
        if tree is not None:
            yield tree


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        todo.extend(_children(current))


def _declared_global(node: ast.AST) -> set[str]:
    return {name for n in ast.walk(node) if isinstance(n, ast.Global) for name in n.names}


def _binds(node: ast.AST) -> set[str]:
    """Names a statement binds in its own scope (not those bound inside the functions and classes it defines,
    except what a function declares global)."""
    out: set[str] = set()

    def visit(n: ast.AST) -> None:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
            out.update(_declared_global(n))
            return
        if isinstance(n, _SCOPES):
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            out.add(n.id)
        elif isinstance(n, ast.alias) and n.name != "*":
            out.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, ast.ExceptHandler) and n.name:
            out.add(n.name)
        for child in _children(n):
            visit(child)

    visit(node)
    return out


class _Scope:
    """A function's (or the module's) local names and what they may stand for."""

    def __init__(self, parent: _Scope | None, local: set[str]) -> None:
        self.parent, self.local = parent, local
        self.aliases: dict[str, set[str]] = {}

    def owner(self, name: str) -> _Scope:
        scope = self
        while scope.parent is not None and name not in scope.local:
            scope = scope.parent
        return scope


def _scoped(node: ast.AST, scope: _Scope) -> Iterator[tuple[ast.AST, _Scope]]:
    """Every node with the scope its names are looked up in (defaults and decorators: the enclosing one)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        yield node, scope
        args = node.args
        outer = [*args.defaults, *(d for d in args.kw_defaults if d is not None), *getattr(node, "decorator_list", [])]
        for child in outer:
            yield from _scoped(child, scope)
        body = node.body if isinstance(node.body, list) else [node.body]
        params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg) if a}
        local = params | set().union(*(_binds(b) for b in body)) - _declared_global(node)
        inner = _Scope(scope, local)
        for child in body:
            yield from _scoped(child, inner)
        return
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        targets = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        scope = _Scope(scope, targets)
    yield node, scope
    for child in _children(node):
        yield from _scoped(child, scope)


def _global_reads(node: ast.AST) -> set[str]:
    """Global names a top-level statement reads (a function's own locals and parameters are not)."""
    module = _Scope(None, set())
    return {n.id for n, scope in _scoped(node, module)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and scope.owner(n.id) is module}


def _is_star_import(node: ast.AST) -> bool:
    return any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in _walk(node))


def _defining_statements(names: list[str], statements: list[_Statement]) -> list[_Statement]:
    """Every statement of the last cell that binds one of names, then, transitively, for each global name read,
    the last statement anywhere that binds it; and every star import."""
    binders: dict[str, _Statement] = {}
    for statement in statements:
        for name in _binds(statement.node):
            binders[name] = statement  # the last binding wins, as when the notebook runs top to bottom
    seeds = [binders[n] for n in names if n in binders]
    if not seeds:
        return []
    cell = max(seeds, key=statements.index).cell
    todo = [s for s in statements if s.cell == cell or _is_star_import(s.node)]
    chosen: list[_Statement] = []
    while todo:
        statement = todo.pop()
        if statement in chosen:
            continue
        chosen.append(statement)
        todo.extend(binders[n] for n in _global_reads(statement.node) if n in binders)
    return sorted(chosen, key=statements.index)


class _Resolver:
    """Dotted names that expressions of the chosen statements stand for, through imports and assignments."""

    def __init__(self, chosen: list[_Statement], statements: list[_Statement]) -> None:
        self.module = _Scope(None, set())
        self.bound_anywhere = set().union(*(_binds(s.node) for s in statements))
        self.stars: set[str] = set()
        self.nodes = [(s, n, scope) for s in chosen for n, scope in _scoped(s.node, self.module)]
        self.scope_of = {id(n): scope for _, n, scope in self.nodes}
        for _ in range(10):  # aliases of aliases, to a fixed point
            before = self._snapshot()
            for _, node, scope in self.nodes:
                self._learn(node, scope)
            if before == self._snapshot():
                break

    def _snapshot(self) -> list[tuple[str, frozenset[str]]]:
        scopes = {id(scope): scope for _, _, scope in self.nodes}
        return sorted((f"{key}:{name}", frozenset(v)) for key, scope in scopes.items()
                      for name, v in scope.aliases.items())

    def _bind(self, scope: _Scope, name: str, targets: set[str]) -> None:
        if targets:
            scope.owner(name).aliases.setdefault(name, set()).update(targets)

    def _learn(self, node: ast.AST, scope: _Scope) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                root = a.name.split(".")[0]
                self._bind(scope, a.asname or root, {a.name if a.asname else root})
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                if a.name == "*":
                    self.stars.add(node.module)
                else:
                    self._bind(scope, a.asname or a.name, {f"{node.module}.{a.name}"})
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                self._assign(scope, target, node.value)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            self._assign(scope, node.optional_vars, node.context_expr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            body = node.body[0] if isinstance(node.body, list) else node.body
            inner = self.scope_of[id(body)]  # where the parameters are read
            args = node.args
            positional = [*args.posonlyargs, *args.args]
            pairs = [*zip(positional[len(positional) - len(args.defaults):], args.defaults),
                     *((a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None)]
            for arg, default in pairs:
                self._bind(inner, arg.arg, self.resolve(default, scope))

    def _assign(self, scope: _Scope, target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self._bind(scope, target.id, self.resolve(value, scope))
        elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
                and len(target.elts) == len(value.elts):
            for t, v in zip(target.elts, value.elts):
                self._assign(scope, t, v)

    def resolve(self, node: ast.AST, scope: _Scope) -> set[str]:
        """The dotted names an expression may stand for (empty: nothing known)."""
        if isinstance(node, ast.Name):
            owner = scope.owner(node.id)
            known = owner.aliases.get(node.id, set())
            if not known and owner is self.module and node.id not in self.bound_anywhere \
                    and not hasattr(builtins, node.id):
                return {f"{module}.{node.id}" for module in self.stars}
            return set(known)
        if isinstance(node, ast.Attribute):
            return {f"{base}.{node.attr}" for base in self.resolve(node.value, scope)}
        if isinstance(node, ast.Subscript) and _literal(node.slice) is not None \
                and "sys.modules" in self.resolve(node.value, scope):
            return {_literal(node.slice)}
        if isinstance(node, ast.Call) and node.args:
            func = self.resolve(node.func, scope) | ({node.func.id} if isinstance(node.func, ast.Name) else set())
            first = _literal(node.args[0])
            if func & {"getattr", "builtins.getattr"} and len(node.args) >= 2 and _literal(node.args[1]):
                return {f"{base}.{_literal(node.args[1])}" for base in self.resolve(node.args[0], scope)}
            if first and func & {"importlib.import_module", "__import__", "builtins.__import__"}:
                return {first, first.split(".")[0]}
        return set()

    def uses(self) -> Iterator[tuple[str, str, str]]:
        """(dotted name, the code as written, where) for each outermost expression that resolves: in
        ``torch.optim.SGD`` that is the whole chain, not ``torch.optim`` on its own."""
        inner = {id(n.value) for _, n, _ in self.nodes if isinstance(n, ast.Attribute)}
        for statement, node, scope in self.nodes:
            if id(node) in inner or not isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
                continue
            if isinstance(node, (ast.Name, ast.Attribute)) and not isinstance(node.ctx, ast.Load):
                continue
            for found in sorted(self.resolve(node, scope)):
                line = getattr(node, "lineno", None)
                yield found, _unparse(node), f"cell {statement.cell}" + (f", line {line}" if line else "")


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _unparse(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 80 else text[:77] + "..."


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


def _import_object(dotted: str) -> Any:
    """The object a forbidden dotted name names: a misspelt one is the grader's error, never a silent pass."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise ValueError(f"assert_avoids: {dotted!r} does not name an importable object; spell forbidden names as "
                     "dotted names from the top module (torch.optim, tensorflow.clip_by_global_norm)")


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _lookup(dotted: str) -> Iterator[Any]:
    """The objects along a dotted name, from a module already imported (nothing is imported for the student)."""
    parts = dotted.split(".")
    obj = sys.modules.get(parts[0])
    if obj is None:
        return
    yield obj
    for i, attr in enumerate(parts[1:], 2):
        try:
            obj = sys.modules.get(".".join(parts[:i])) or getattr(obj, attr)  # a submodule the package hides
        except Exception:  # noqa: BLE001 - a name that does not exist is not a use of anything
            return
        yield obj


def _match(found: str, banned: dict[str, Any], allowed: dict[str, Any]) -> str | None:
    """The forbidden name a use falls under: by name, by identity, or as something defined in a forbidden module."""
    roots = {name.split(".")[0] for name in banned}
    objects = list(_lookup(found)) if found.split(".")[0] in roots else []
    whole = objects[-1] if len(objects) == len(found.split(".")) else None
    if any(_under(found, a) for a in allowed) or any(whole is obj for obj in allowed.values() if whole is not None):
        return None
    for name in banned:
        if _under(found, name):
            return name
    for name, target in banned.items():
        if any(obj is target for obj in objects):
            return name
        module = getattr(whole, "__module__", None)
        if isinstance(target, type(sys)) and not isinstance(whole, type(sys)) and isinstance(module, str) \
                and _under(module, name):
            return name
    return None
