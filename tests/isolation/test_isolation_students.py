"""Misbehaving a1 submissions, graded together in ONE pipeline call on a 2-worker Dask LocalCluster.

Each student starts from the reference solution (the release with the source's solutions filled in), does one bad
thing, and must still get a clear grade and reason, without touching the grader, the other students or the host.
Unlocked cells that only train for show (steps 4-7 runs) are emptied, as a student may, to keep the suite fast.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

from autograder import isolation, pipeline
from autograder.course import REPO, build_course
from autograder.limits import Limits

A1 = "a1_loss_curves"
#: a1's hidden diagnose test trains 20 runs: 17 s alone here, past 30 s while the machine was busy.
LIMITS = Limits(cell_timeout=90, wall_seconds=600, max_processes=64, output_bytes=100_000)
SLEEP_MARK = "4242.5"  # the fork loop's sleepers carry this argument, so the test can look for survivors

pytestmark = pytest.mark.skipif(not (REPO / "source" / A1).is_dir(), reason="source/a1_loss_curves not present")
#: Students whose misdeeds only namespaces stop: without them they would write into the repository, so they are
#: left out of the class (and their tests skipped, saying why) where the sandbox cannot isolate.
ISOLATED = isolation.mode() == "full"
NEEDS_SANDBOX = {"fork_loop", "network", "snoop", "vandal"}
needs_sandbox = pytest.mark.skipif(not ISOLATED, reason=isolation.isolation_report().splitlines()[0])


def _gid(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _index(nb: NotebookNode, gid: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)


def _append_to(gid: str, code: str) -> Callable[[NotebookNode], None]:
    def change(nb: NotebookNode) -> None:
        nb.cells[_index(nb, gid)].source += "\n" + code
    return change


def _insert_after(gid: str, code: str) -> Callable[[NotebookNode], None]:
    def change(nb: NotebookNode) -> None:
        nb.cells.insert(_index(nb, gid) + 1, nbformat.v4.new_code_cell(code))
    return change


def _at_end(code: str) -> Callable[[NotebookNode], None]:
    def change(nb: NotebookNode) -> None:
        nb.cells.append(nbformat.v4.new_code_cell(code))
    return change


def _replace(gid: str, code: str) -> Callable[[NotebookNode], None]:
    def change(nb: NotebookNode) -> None:
        nb.cells[_index(nb, gid)].source = code
    return change


def _delete(gid: str) -> Callable[[NotebookNode], None]:
    def change(nb: NotebookNode) -> None:
        del nb.cells[_index(nb, gid)]
    return change


def _rename(gid: str, new: str) -> Callable[[NotebookNode], None]:
    def change(nb: NotebookNode) -> None:
        nb.cells[_index(nb, gid)].metadata.nbgrader["grade_id"] = new
    return change


def _both(*changes: Callable[[NotebookNode], None]) -> Callable[[NotebookNode], None]:
    def change(nb: NotebookNode) -> None:
        for c in changes:
            c(nb)
    return change


# train_one_epoch that trains correctly but reports 1.5x the loss: the three tests reading its loss and train_model's
# two must fail.
WRONG_LOSS = "_right_train_one_epoch = train_one_epoch\n" \
             "def train_one_epoch(*args):\n    return 1.5 * _right_train_one_epoch(*args)"
TRAIN_TESTS = {"test_train_one_epoch", "test_train_one_epoch_hidden", "test_train_one_epoch_train_mode",
               "test_train_model", "test_train_model_hidden"}
#: a1's diagnose tests: the visible one and the hidden one with its two further bands (75 % and 90 %).
DIAGNOSE_TESTS = {"test_diagnose", "test_diagnose_hidden", "test_diagnose_hidden_75", "test_diagnose_hidden_90"}


def _students(env: dict) -> dict[str, tuple[Callable[[NotebookNode], None] | bytes | None, str, set[str], str]]:
    """student -> (change to the reference | raw file | None for nothing, status, test cells scoring 0, reason)."""
    class_dir, victim = env["class_dir"], env["victim"]
    elsewhere = class_dir / "loop_forever" / A1 / f"{A1}.ipynb"  # another student's submission
    snoop_paths = ["../../../gradebook.db", f"../../../source/{A1}/{A1}.ipynb", str(elsewhere),
                   str(REPO / "source" / A1 / f"{A1}.ipynb"), str(REPO / "autograder" / "gradebook.db"), str(class_dir / "sys_exit")]
    write_paths = ["../../../gradebook.db", "../../../planted.txt", str(class_dir / "planted.txt"),
                   str(REPO / "planted.txt")]
    return {
        "loop_forever": (_insert_after("setup", "while True:\n    pass"), "timed_out", set(), "cell time limit"),
        "os_exit": (_append_to("train_model", "import os\nos._exit(3)"), "kernel_died",
                    {"test_train_model", "test_train_model_hidden", *DIAGNOSE_TESTS},
                    "exit code 3"),
        "segfault": (_append_to("diagnose", "import ctypes\nctypes.string_at(0)"), "kernel_died",
                     DIAGNOSE_TESTS, "SIGSEGV"),
        "alloc_8gb": (_insert_after("setup", "import numpy as np\nhog = np.ones(8 * 2**30, dtype=np.uint8)"),
                      "out_of_memory", set(), "memory"),
        "fork_loop": (_at_end("import subprocess\nkids = [subprocess.Popen(['sleep', '%s']) for _ in range(200)]"
                              % SLEEP_MARK), "graded", set(), ""),
        "network": (_at_end("import socket\nsocket.create_connection(('127.0.0.1', %d), timeout=3)" % env["port"]),
                    "graded", set(), ""),
        "snoop": (_at_end(f"for p in {snoop_paths!r}:\n    try:\n        open(p, 'rb').read(1)\n"
                          "        print('LEAK', p)\n    except OSError as e:\n        print('blocked', p, e)"),
                  "graded", set(), ""),
        "vandal": (_at_end(f"import os\nfor p in {write_paths!r}:\n    try:\n        open(p, 'w').write('x')\n"
                           "        print('WROTE', p)\n    except OSError as e:\n        print('blocked', p, e)\n"
                           f"os.symlink({str(victim)!r}, 'feedback.html')\nos.mkfifo('timestamp.txt')\n"
                           f"print(len(open('{A1}.ipynb').read()), 'bytes of notebook visible')\n"
                           f"os.remove('{A1}.ipynb')"), "graded", set(), ""),
        "delete_test": (_delete("test_evaluate_value"), "cells_missing", set(), "test_evaluate_value"),
        "edit_test": (_both(_replace("train_model", "def train_model(*args, **kwargs):\n    return {}"),
                            _replace("test_train_model", "assert True")), "tampered",
                      {"test_train_model", "test_train_model_hidden"}, "test_train_model"),
        "rebind_names": (_append_to("train_one_epoch", WRONG_LOSS + "\nfrom numpy.testing import assert_allclose\n"
                                    "assert_allclose = _close = check_close = lambda *a, **k: None\n"
                                    "train_with_loss_tracking = _ref_train = lambda *a, **k: None"),
                         "graded", TRAIN_TESTS, ""),
        "monkeypatch_losslab": (_append_to("train_one_epoch", WRONG_LOSS + "\nimport losslab.grading\n"
                                           "losslab.grading.check_close = lambda *a, **k: None"),
                                "graded", TRAIN_TESTS, ""),
        "sys_exit": (_insert_after("setup", "import sys\nsys.exit()"), "graded", set(), ""),
        "print_100mb": (_at_end("import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 1_000_000)"),
                        "graded", set(), ""),
        "renamed_id": (_rename("test_evaluate_value", "test_evaluate_value_mine"), "cells_missing", set(),
                       "test_evaluate_value"),
        "not_json": (b"{ this is not JSON", "unreadable", None, "JSON"),
        "missing": (None, "missing", None, "no submission"),
    }


def _reference(root: Path) -> NotebookNode:
    """The release with every solution cell taken from the source: what a perfect student hands in."""
    build_course(root, [A1])
    release = nbformat.read(root / "release" / A1 / f"{A1}.ipynb", 4)
    source = nbformat.read(REPO / "source" / A1 / f"{A1}.ipynb", 4)
    solutions = {_gid(c): c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in release.cells:
        if _gid(cell) in solutions:
            cell.source = solutions[_gid(cell)]
        elif cell.cell_type == "code" and _gid(cell) is None:
            cell.source = "# (the demonstration runs are left out)"
    return release


def _sleepers() -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", SLEEP_MARK.encode()]:
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("isolation")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))  # loopback only: the one address a test may target
    server.listen(5)
    server.settimeout(0.5)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    threading.Thread(target=serve, daemon=True).start()
    victim = tmp / "victim.txt"
    victim.write_text("intact")
    env = {"class_dir": tmp / "class", "victim": victim,
           "port": server.getsockname()[1]}
    reference = _reference(tmp / "reference_course")
    students = _students(env)
    for student, (change, *_rest) in students.items():
        if student in NEEDS_SANDBOX and not ISOLATED:
            continue
        folder = _folder(env["class_dir"], student)
        if change is None:
            (folder / "notes.txt").write_text("I forgot to upload the notebook")
        elif isinstance(change, bytes):
            (folder / f"{A1}.ipynb").write_bytes(change)
        else:
            nb = nbformat.reads(nbformat.writes(reference), 4)
            change(nb)
            nbformat.write(nb, folder / f"{A1}.ipynb")
    out = tmp / "out"
    results = pipeline.grade(env["class_dir"], out, workers=2, limits=LIMITS, assignments=[A1], progress=False)
    stop.set()
    server.close()
    return {"results": {r.student: r for r in results}, "students": students, "out": out, "env": env,
            "accepted": accepted, "sleepers": _sleepers()}


def _folder(class_dir: Path, student: str) -> Path:
    folder = class_dir / student / A1
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _outputs(graded: dict, student: str) -> str:
    nb = nbformat.read(graded["out"] / "autograded" / student / A1 / f"{A1}.ipynb", 4)
    return "".join(o.get("text", "") + o.get("evalue", "") for c in nb.cells for o in c.get("outputs", []))


STUDENTS = ["loop_forever", "os_exit", "segfault", "alloc_8gb", "fork_loop", "network", "snoop", "vandal",
            "delete_test", "edit_test", "rebind_names", "monkeypatch_losslab", "sys_exit", "print_100mb", "renamed_id", "not_json",
            "missing"]


def _marks(student: str) -> list[pytest.MarkDecorator]:
    return [needs_sandbox] * (student in NEEDS_SANDBOX)


@pytest.mark.parametrize("student", [pytest.param(s, marks=_marks(s)) for s in STUDENTS])
def test_grade_and_reason(graded: dict, student: str) -> None:
    result = graded["results"][student]
    _, status, failing, reason = graded["students"][student]
    assert (result.status, reason in result.reason) == (status, True), result.reason
    if failing is None:
        assert result.score == 0
        return
    auto = {c.grade_id: c for c in result.cells if c.autograded}
    assert {gid for gid, c in auto.items() if c.score == 0} == failing
    assert all(c.score == c.max_score for gid, c in auto.items() if gid not in failing)
    assert result.score == sum(c.max_score for gid, c in auto.items() if gid not in failing)


@needs_sandbox
def test_fork_loop_was_bounded_and_left_nothing(graded: dict) -> None:
    assert "Resource temporarily unavailable" in _outputs(graded, "fork_loop")
    assert graded["sleepers"] == [] and _sleepers() == []


@needs_sandbox
def test_loopback_server_never_reached(graded: dict) -> None:
    assert graded["accepted"] == []
    assert "Connection refused" in _outputs(graded, "network") or "unreachable" in _outputs(graded, "network")


@needs_sandbox
def test_no_file_outside_its_folder_read(graded: dict) -> None:
    text = _outputs(graded, "snoop")
    assert "LEAK" not in text and text.count("blocked") == 6


@needs_sandbox
def test_no_file_outside_its_folder_written(graded: dict) -> None:
    env = graded["env"]
    text = _outputs(graded, "vandal")
    assert "WROTE" not in text and text.count("blocked") == 4  # /tmp is the kernel's own scratch tmpfs
    assert env["victim"].read_text() == "intact"
    assert "0 bytes of notebook visible" in text  # masked: its restored cells hold the hidden tests
    # and it cannot be removed (a root-owned mount point in a sticky folder); the host folder is never mounted
    assert "Operation not permitted" in text or "Device or resource busy" in text
    assert not (env["class_dir"] / "planted.txt").exists() and not (REPO / "planted.txt").exists()


def test_100mb_of_output_is_cut(graded: dict) -> None:
    notebook = graded["out"] / "autograded" / "print_100mb" / A1 / f"{A1}.ipynb"
    assert notebook.stat().st_size < 2_000_000
    assert "cut by the grader" in _outputs(graded, "print_100mb")


def test_kernel_deaths_are_told_apart(graded: dict) -> None:
    reasons = {s: graded["results"][s].reason for s in ("os_exit", "segfault")}
    assert "exit code 3" in reasons["os_exit"] and signal.Signals.SIGSEGV.name in reasons["segfault"]
