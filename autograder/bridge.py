"""What runs inside the two grading kernels: the data-only codec and the call bridge between them.

The student's cells run in the student kernel; the test cells run in a verdict kernel where no student code ever
ran. Every name a test cell reads from the student is bound there as a `StudentObject`: calling one pickles the
call TO the student kernel (that side is untrusted anyway), runs it there, and brings back the result, and the
state of the arguments it changed in place, AS DATA ONLY: an npz archive of numeric arrays (numpy.load with
allow_pickle=False) and a tagged JSON tree. Nothing the student side sends back is ever unpickled or executed.

This module is bound read-only into both sandboxes (alone: nothing else of the grader); it imports none of it.
"""
from __future__ import annotations

import ast
import base64
import builtins
import io
import json
import os
import sys
import traceback
from typing import Any

import numpy as np

#: Environment variable holding the student kernel's connection info, for the verdict kernel.
PEER_ENV = "LSBX_PEER"
#: File in the verdict kernel's working folder, written by the grader before that kernel starts: the code cells the
#: student kernel runs, as [label, source] pairs, for `losslab.grading.assert_avoids` (read once, at start-up).
CELLS_FILE = ".lsbx-student-cells.json"
#: What a student-side reply may weigh: a test reads numbers, not datasets.
MAX_REPLY_BYTES = 256 << 20
_NUMERIC = set("biufc")


# ---------------------------------------------------------------- data codec (safe to decode) --

def _module_of(value: Any) -> str:
    return (type(value).__module__ or "").split(".")[0]


def _is_torch_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _is_tf_tensor(value: Any) -> bool:
    tf = sys.modules.get("tensorflow")
    keras = sys.modules.get("keras")
    return (tf is not None and isinstance(value, (tf.Tensor, tf.Variable))) or \
        (keras is not None and isinstance(value, keras.Variable))


def encode(value: Any) -> bytes:
    """value as an npz archive: numbers, strings, None, lists/tuples/dicts, arrays, torch and TF tensors,
    losslab TrainingHistory. Anything else raises TypeError: it cannot travel as data."""
    arrays: list[np.ndarray] = []

    def array(a: np.ndarray) -> int:
        if a.dtype.kind not in _NUMERIC:
            raise TypeError(f"cannot bring back an array of dtype {a.dtype} as data")
        arrays.append(np.array(a, order="C"))  # (ascontiguousarray would make a 0-d array 1-d)
        return len(arrays) - 1

    def tree(v: Any, depth: int = 0) -> Any:
        if depth > 64:
            raise TypeError("data nested too deeply")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, float)) and type(v) in (int, float):
            return {"$": "f", "v": repr(v)} if isinstance(v, float) else v
        if isinstance(v, (np.generic, np.ndarray)):
            return {"$": "a" if isinstance(v, np.ndarray) else "s", "i": array(np.asarray(v))}
        if _is_torch_tensor(v):
            t = v.detach().cpu()
            return {"$": "pt", "i": array(t.numpy()), "g": bool(v.requires_grad)}
        if _is_tf_tensor(v):
            return {"$": "tf", "i": array(np.asarray(v.numpy() if hasattr(v, "numpy") else v))}
        if isinstance(v, (list, tuple)):
            return {"$": "l" if isinstance(v, list) else "t", "v": [tree(x, depth + 1) for x in v]}
        if isinstance(v, dict):
            return {"$": "d", "k": [tree(k, depth + 1) for k in v], "v": [tree(x, depth + 1) for x in v.values()]}
        if type(v).__name__ == "TrainingHistory" and _module_of(v) == "losslab":
            return {"$": "h", "v": tree(v.to_dict(), depth + 1)}
        raise TypeError(f"cannot bring back a {type(v).__module__}.{type(v).__qualname__} as data")

    root = json.dumps(tree(value)).encode()
    buf = io.BytesIO()
    np.savez(buf, __tree__=np.frombuffer(root, dtype=np.uint8), **{f"a{i}": a for i, a in enumerate(arrays)})
    return buf.getvalue()


def decode(data: bytes) -> Any:
    """The value `encode` wrote, rebuilt from numbers and strings only (no pickle, no code)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    root = json.loads(bytes(arrays.pop("__tree__")).decode())

    def build(node: Any) -> Any:
        if not isinstance(node, dict):
            if isinstance(node, list):
                raise ValueError("malformed data: bare list")
            return node
        tag = node.get("$")
        if tag == "f":
            return float(node["v"])
        if tag in ("a", "s", "pt", "tf"):
            a = arrays[f"a{int(node['i'])}"]
            if tag == "s":
                return a[()]
            if tag == "pt":
                import torch
                t = torch.from_numpy(a.copy())
                return t.requires_grad_() if node.get("g") and t.is_floating_point() else t
            if tag == "tf":
                import tensorflow as tf
                return tf.convert_to_tensor(a)
            return a
        if tag in ("l", "t"):
            items = [build(x) for x in node["v"]]
            return items if tag == "l" else tuple(items)
        if tag == "d":
            return {build(k): build(v) for k, v in zip(node["k"], node["v"])}
        if tag == "h":
            from losslab import TrainingHistory
            return TrainingHistory.from_dict(build(node["v"]))
        raise ValueError(f"malformed data: unknown tag {tag!r}")

    return build(root)


# ------------------------------------------- state of arguments a call changes in place --

def _stateful(values: Any) -> list[Any]:
    """The objects among call arguments whose state a call may change in place, in a fixed order, so both
    kernels walk the same structure to the same list."""
    found: list[Any] = []
    seen: set[int] = set()
    torch = sys.modules.get("torch")
    keras = sys.modules.get("keras")

    def walk(v: Any, depth: int) -> None:
        if id(v) in seen or depth > 8:
            return
        seen.add(id(v))
        if isinstance(v, (list, tuple)):
            for x in v:
                walk(x, depth + 1)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x, depth + 1)
        elif torch is not None and isinstance(v, (torch.nn.Module, torch.optim.Optimizer, torch.Generator)):
            found.append(v)
        elif torch is not None and isinstance(v, torch.utils.data.DataLoader):
            if v.generator is not None:
                walk(v.generator, depth + 1)
        elif keras is not None and isinstance(v, (keras.Model, keras.optimizers.Optimizer)):
            found.append(v)

    walk(values, 0)
    return found


def state_of(obj: Any) -> dict[str, Any]:
    """What a call may have changed in obj, as data."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        return {"state": dict(obj.state_dict()), "training": [m.training for m in obj.modules()],
                "grads": [p.grad for p in obj.parameters()]}
    if torch is not None and isinstance(obj, torch.optim.Optimizer):
        return {"optimizer": obj.state_dict()}
    if torch is not None and isinstance(obj, torch.Generator):
        return {"generator": obj.get_state()}
    if hasattr(obj, "get_weights"):  # keras.Model
        return {"weights": obj.get_weights()}
    return {"variables": [np.asarray(v.numpy()) for v in obj.variables] if obj.built else []}  # keras optimizer


def load_state(obj: Any, state: dict[str, Any], models: list[Any]) -> None:
    """Apply state_of's record to obj (the same kind of object, built alike)."""
    if "state" in state:
        import torch
        with torch.no_grad():
            target = obj.state_dict()
            if set(target) != set(state["state"]):
                raise ValueError("the model came back with other parameters or buffers")
            for name, value in state["state"].items():
                target[name].copy_(value)
        modules = list(obj.modules())
        for module, training in zip(modules, state["training"]):
            module.training = bool(training)
        for param, grad in zip(obj.parameters(), state["grads"]):
            param.grad = None if grad is None else grad.detach().to(param.dtype)
    elif "optimizer" in state:
        obj.load_state_dict(state["optimizer"])
    elif "generator" in state:
        obj.set_state(state["generator"])
    elif "weights" in state:
        obj.set_weights(state["weights"])
    elif state.get("variables"):
        if not obj.built:
            owners = [m for m in models if m.trainable_variables]
            if not owners:
                raise ValueError("a Keras optimizer came back built, but no model was passed with it")
            obj.build(owners[0].trainable_variables)
        if len(obj.variables) != len(state["variables"]):
            raise ValueError("the Keras optimizer came back with another number of variables")
        for variable, value in zip(obj.variables, state["variables"]):
            variable.assign(value)


def _load_states(values: Any, states: list[dict[str, Any]]) -> None:
    objects = _stateful(values)
    if len(objects) != len(states):
        raise ValueError("the call's arguments came back with another structure")
    keras = sys.modules.get("keras")
    models = [o for o in objects if keras is not None and isinstance(o, keras.Model)]
    for obj, state in zip(objects, states):
        load_state(obj, state, models)


def _new_keras_optimizer(cls: type, config: dict[str, Any]) -> Any:
    """A fresh, unbuilt Keras optimizer: its variables travel as data next to the pickle and are loaded after."""
    return cls.from_config(config)


# ---------------------------------------------------------------- student kernel side --

def _student_namespace() -> dict[str, Any]:
    from IPython import get_ipython
    return get_ipython().user_ns


def _student_value(name: str) -> Any:
    """What a StudentObject stands for, looked up when the call's pickle is opened in the student kernel."""
    return _student_namespace()[name]


def serve(request: str) -> str:
    """Run one call from the verdict kernel; the answer is base64 of encode({'result', 'states'} or {'error'})."""
    import pickle

    try:
        target, args, kwargs, states = pickle.loads(base64.b64decode(request))
        _load_states((args, kwargs), decode(states))
        fn = _student_value(target) if isinstance(target, str) else target
        if isinstance(fn, str) or not callable(fn):
            raise TypeError(f"{target!r} is not callable")
        result = fn(*args, **kwargs)
        answer = encode({"result": result, "states": [state_of(o) for o in _stateful((args, kwargs))]})
    except BaseException as exc:  # noqa: BLE001 - an interrupted or failing call is an answer too
        text = "".join(traceback.format_exception(exc)[-12:])
        answer = encode({"error": [type(exc).__name__, str(exc)[:4000], text[-8000:]]})
    return base64.b64encode(answer).decode()


def describe(names: list[str]) -> str:
    """For each name the student's namespace holds: 'call' (a function or class) or its value as data."""
    namespace, out = _student_namespace(), {}
    for name in names:
        if name in namespace:
            value = namespace[name]
            if type(value).__name__ == "module":
                continue  # a test cell imports the modules it uses
            if callable(value):
                out[name] = {"kind": "call"}
                continue
            try:
                encode(value)
                out[name] = {"kind": "data", "value": value}
            except TypeError:
                out[name] = {"kind": "call"}
    return base64.b64encode(encode(out)).decode()


# ---------------------------------------------------------------- verdict kernel side --

class StudentError(RuntimeError):
    """The student's code raised; the message carries its exception and traceback."""


class StudentKernel:
    """A blocking client of the student kernel, as the verdict kernel holds it."""

    def __init__(self, info: dict[str, Any]) -> None:
        from jupyter_client import BlockingKernelClient

        self.client = BlockingKernelClient()
        self.client.load_connection_info(info)
        self.client.start_channels(shell=True, iopub=True, stdin=False, hb=True, control=False)
        self.client.wait_for_ready(timeout=60)  # also makes sure its output reaches us (a fresh subscription)

    def run(self, code: str) -> bytes:
        """Execute code that leaves a base64 answer in __lsbx_reply; return the answer's bytes."""
        import queue

        kc = self.client
        msg_id = kc.execute(code, silent=True, store_history=False, user_expressions={"r": "__lsbx_reply"})
        silent = 0
        while True:
            try:
                reply = kc.get_shell_msg(timeout=1)
            except queue.Empty:
                silent = 0 if kc.hb_channel.is_beating() else silent + 1
                if silent >= 5:
                    raise StudentError("the student kernel is gone (it died or exited)") from None
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        self._relay_output(msg_id)
        content = reply.get("content", {})
        answer = content.get("user_expressions", {}).get("r", {})
        if content.get("status") != "ok" or answer.get("status") != "ok":
            raise StudentError("the student kernel did not answer (its shell no longer runs code as sent)")
        text = answer.get("data", {}).get("text/plain", "")
        if not isinstance(text, str) or len(text) > MAX_REPLY_BYTES * 4 // 3 + 8:
            raise StudentError("the student kernel's answer is too large")
        return base64.b64decode(text.strip("'\""), validate=True)

    def _relay_output(self, msg_id: str) -> None:
        """Show what the student's code printed during the call (its stdout and stderr), as it would alone."""
        import queue

        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=2)
            except queue.Empty:
                return
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            content = msg.get("content", {})
            if msg.get("msg_type") == "stream":
                stream = sys.stderr if content.get("name") == "stderr" else sys.stdout
                stream.write(str(content.get("text", ""))[:100_000])
            elif msg.get("msg_type") == "status" and content.get("execution_state") == "idle":
                return

    def call(self, target: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        """target(*args, **kwargs) in the student kernel; its result and the arguments' new state, as data."""
        states = encode([state_of(o) for o in _stateful((args, kwargs))])
        request = base64.b64encode(_pickle((target, args, kwargs, states))).decode()
        answer = decode(self.run(f"import autograder.bridge as __lsbx\n__lsbx_reply = __lsbx.serve({request!r})"))
        if not isinstance(answer, dict):
            raise StudentError("the student kernel's answer is malformed")
        if "error" in answer:
            name, message, text = (str(x) for x in answer["error"])
            kind = getattr(builtins, name, None)
            if not (isinstance(kind, type) and issubclass(kind, Exception)) or kind in (SystemExit, KeyboardInterrupt):
                kind = StudentError
            raise kind(f"{name}: {message}\n--- in your code (student kernel) ---\n{text}")
        _load_states((args, kwargs), list(answer.get("states", [])))
        return answer.get("result")

    def describe(self, names: list[str]) -> dict[str, Any]:
        answer = decode(self.run(f"import autograder.bridge as __lsbx\n__lsbx_reply = __lsbx.describe({names!r})"))
        return answer if isinstance(answer, dict) else {}


def _pickle(value: Any) -> bytes:
    """Pickle for the student kernel: functions defined in test cells by value, Keras optimizers by config."""
    import cloudpickle

    class Pickler(cloudpickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, StudentObject):
                return _student_value, (obj._name,)
            keras = sys.modules.get("keras")
            if keras is not None and isinstance(obj, keras.optimizers.Optimizer):
                return _new_keras_optimizer, (type(obj), obj.get_config())
            return super().reducer_override(obj)

    buf = io.BytesIO()
    Pickler(buf).dump(value)
    return buf.getvalue()


class StudentObject:
    """A name the student's cells defined, as the verdict kernel sees it: calling it runs the call over there."""

    def __init__(self, kernel: StudentKernel, name: str) -> None:
        self._kernel, self._name = kernel, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._kernel.call(self._name, args, kwargs)

    def __lsbx_call__(self, fn: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        """Run fn (a losslab.grading helper, pickled by reference) in the student kernel with these arguments."""
        return self._kernel.call(fn, args, kwargs)

    def __lsbx_cells__(self) -> tuple[str, list[tuple[str, str]]]:
        """(this name, the submitted notebook's code cells as the grader has them): what defines it, readable
        without asking the student kernel, whose history and source the student's code can rewrite."""
        return self._name, list(_STUDENT_CELLS)

    def __repr__(self) -> str:
        return f"<{self._name} from the student's kernel>"


#: The student's code cells, as the grader wrote them into CELLS_FILE (the verdict kernel only).
_STUDENT_CELLS: list[tuple[str, str]] = []


def _free_names(source: str) -> list[str]:
    """Names a cell reads but never binds (a superset is harmless: only names the student has are fetched)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return sorted(n for n in loaded - bound if not hasattr(builtins, n))


def install_verdict() -> None:
    """Verdict kernel start-up: connect to the student kernel and, before each cell, bind the student names it
    reads (callables as StudentObject, other values as data)."""
    from IPython import get_ipython

    peer = json.loads(os.environ.pop(PEER_ENV))
    try:
        cells = json.loads(open(CELLS_FILE, encoding="utf-8").read())
    except FileNotFoundError:
        cells = []
    _STUDENT_CELLS[:] = [(str(label), str(source)) for label, source in cells]
    kernels: list[StudentKernel] = []  # connected at the first test cell: the kernels start side by side
    shell = get_ipython()
    from_student: set[str] = set()

    def bind(info: Any) -> None:
        wanted = [n for n in _free_names(info.raw_cell or "") if n not in shell.user_ns or n in from_student]
        if not wanted:
            return
        if not kernels:
            kernels.append(StudentKernel(peer))
        kernel = kernels[0]
        found = kernel.describe(wanted)
        for name in wanted:
            entry = found.get(name)
            if not isinstance(entry, dict):
                shell.user_ns.pop(name, None) if name in from_student else None
                from_student.discard(name)
                continue
            shell.user_ns[name] = entry.get("value") if entry.get("kind") == "data" else StudentObject(kernel, name)
            from_student.add(name)

    shell.events.register("pre_run_cell", bind)
