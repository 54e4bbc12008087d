"""The sandbox on its own, without nbgrader's course machinery: one kernel, a few probing cells, seconds."""
from __future__ import annotations

import json
import os
import signal
import socket
import threading
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode
from traitlets.config import Config

from autograder import isolation, kernel_record, kernel_uid, memory_cgroup, sandbox
from autograder.limits import Limits
from autograder.sandboxed_execute import SandboxedExecute

LIMITS = Limits(cell_timeout=10, wall_seconds=60, output_bytes=2000, max_processes=64, memory_mb=2048,
                cpu_seconds=30, file_mb=8)

needs_full = pytest.mark.skipif(isolation.mode() != "full", reason="needs root and bubblewrap: "
                                + isolation.isolation_report().splitlines()[0])


def _probe(code: str) -> str:
    """A cell that prints one JSON line: {"ok": result} or {"err": exception name}."""
    body = "\n".join("    " + line for line in code.strip().splitlines())
    return f"import json\ntry:\n{body}\n    print(json.dumps({{'ok': _r}}))\nexcept BaseException as e:\n" \
           f"    print(json.dumps({{'err': type(e).__name__}}))"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    course = tmp_path_factory.mktemp("course")
    (course / "gradebook.db").write_text("secret gradebook")
    (course / "other_student.txt").write_text("secret")
    folder = course / "autograded" / "s1" / "a1"
    folder.mkdir(parents=True)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted: list[bool] = []
    threading.Thread(target=lambda: accepted.append(bool(server.accept())), daemon=True).start()
    port = server.getsockname()[1]
    cells = {
        "uid": "_r = __import__('os').getuid()",
        "gradebook": f"_r = open({str(course / 'gradebook.db')!r}).read()",
        "other": f"_r = open({str(course / 'other_student.txt')!r}).read()",
        "write_up": f"_r = open({str(course / 'planted.txt')!r}, 'w').write('x')",
        "write_own": "_r = open('mine.txt', 'w').write('x')",
        "tcp": f"import socket\n_r = str(socket.create_connection(('127.0.0.1', {port}), timeout=2))",
        "rlimits": "import resource as R\n_r = [R.getrlimit(getattr(R, n))[0] for n in "
                   "('RLIMIT_AS', 'RLIMIT_NPROC', 'RLIMIT_CPU', 'RLIMIT_FSIZE')]",
        "env": "import os\n_r = sorted(os.environ)",
        "sleeper": "import subprocess\n_r = subprocess.Popen(['sleep', '1234.5']).pid",
        "print_a_lot": "_r = 1\nprint('y' * 100_000)",
        "plant": "import os\nos.symlink('/etc/passwd', 'link')\nos.mkfifo('fifo')\n_r = sorted(os.listdir('.'))",
    }
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_probe(c)) for c in cells.values()])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    config = Config()
    sandbox.apply(config, LIMITS, course)
    executed, _ = SandboxedExecute(config=config).preprocess(
        nb, {"metadata": {"path": str(folder), "name": "probe.ipynb"}})
    server.close()
    out = {}
    for name, cell in zip(cells, executed.cells):
        text = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
        out[name] = json.loads(text.splitlines()[0]) if text.strip().startswith("{") else {"raw": text}
        out[name]["outputs"] = cell.outputs
    return {"cells": out, "course": course, "folder": folder, "accepted": accepted,
            "records": kernel_record.read_records(course)}


def test_report_names_the_isolation() -> None:
    report = isolation.isolation_report(LIMITS)
    assert "memory_mb=2048" in report
    assert ("FULL" in report) != ("WARNING" in report)


@needs_full
def test_kernel_runs_as_a_throwaway_uid(run: dict) -> None:
    uid = run["cells"]["uid"]["ok"]
    assert uid >= kernel_uid.UID_BASE


@needs_full
@pytest.mark.parametrize("cell", ["gradebook", "other"])
def test_files_outside_the_notebook_folder_are_invisible(run: dict, cell: str) -> None:
    assert run["cells"][cell] == {"err": "FileNotFoundError", "outputs": run["cells"][cell]["outputs"]}


@needs_full
def test_writes_land_only_in_its_own_disk_and_vanish_with_it(run: dict) -> None:
    assert "err" in run["cells"]["write_up"]
    assert not (run["course"] / "planted.txt").exists()
    assert run["cells"]["write_own"]["ok"] == 1  # its folder is writable ...
    assert list(run["folder"].iterdir()) == []  # ... but nothing it wrote outlives the kernel


@needs_full
def test_planted_links_and_fifos_never_reach_the_grader(run: dict) -> None:
    assert run["cells"]["plant"]["ok"] == ["fifo", "link", "mine.txt"]
    assert list(run["folder"].iterdir()) == []


@needs_full
def test_disk_is_bounded_as_a_whole(tmp_path: Path) -> None:
    """Many files, each under the per-file limit, in the folder and /tmp together: stopped at disk_mb, and said."""
    fill = ("import os\nfor i in range(40):\n    for d in ('.', '/tmp'):\n"
            "        open(os.path.join(d, f'f{i}'), 'wb').write(b'x' * (7 << 20))")
    nb, (record,) = _run_cells(tmp_path, Limits(file_mb=8, disk_mb=64, cell_timeout=60), fill, "print('alive')")
    assert [o.ename for o in nb.cells[0].outputs if o.output_type == "error"] == ["OSError"]
    assert "No space left on device" in nb.cells[0].outputs[-1].evalue
    assert nb.cells[1].outputs[0].text.strip() == "alive"
    assert record.disk_full and kernel_record.findings(tmp_path)[0][0] == "disk_full"
    assert list((tmp_path / "autograded" / "s1" / "a1").iterdir()) == []


@needs_full
def test_no_network_even_to_loopback(run: dict) -> None:
    assert run["cells"]["tcp"]["err"] in {"ConnectionRefusedError", "OSError", "TimeoutError"}
    assert run["accepted"] == []


def test_rlimits_applied(run: dict) -> None:
    as_, nproc, cpu, fsize = run["cells"]["rlimits"]["ok"]
    assert as_ == LIMITS.memory_mb << 20 and cpu == LIMITS.cpu_seconds and fsize == LIMITS.file_mb << 20
    assert nproc >= LIMITS.max_processes


def test_environment_is_clean(run: dict) -> None:
    env = run["cells"]["env"]["ok"]
    assert "JPY_PARENT_PID" not in env and not any("TOKEN" in k or "KEY" in k for k in env)


def test_nothing_left_running(run: dict) -> None:
    pid_inside = run["cells"]["sleeper"]["ok"]
    assert pid_inside
    left = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).startswith("sleep\x001234.5")]
    assert left == []


def test_output_is_cut_and_recorded(run: dict) -> None:
    text = "".join(o.get("text", "") for o in run["cells"]["print_a_lot"]["outputs"])
    assert len(text) < LIMITS.output_bytes + 200 and "cut by the grader" in text
    (record,) = run["records"]
    assert record.truncated == ["cell 10"] and not record.died and kernel_record.findings(run["course"]) == []


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def _run_cells(tmp: Path, limits: Limits, *cells: str) -> tuple[NotebookNode, list[kernel_record.KernelRecord]]:
    folder = tmp / "autograded" / "s1" / "a1"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    config = Config()
    sandbox.apply(config, limits, tmp)
    executed, _ = SandboxedExecute(config=config).preprocess(
        nb, {"metadata": {"path": str(folder), "name": "probe.ipynb"}})
    return executed, kernel_record.read_records(tmp)


def test_cpu_limit_kills_a_busy_kernel(tmp_path: Path) -> None:
    _, (record,) = _run_cells(tmp_path, Limits(cpu_seconds=2, cell_timeout=60), "while True:\n    pass")
    assert record.died and record.signal == signal.SIGXCPU
    assert kernel_record.findings(tmp_path)[0][0] == "timed_out"


def test_wall_limit_kills_a_sleeping_kernel(tmp_path: Path) -> None:
    nb, (record,) = _run_cells(tmp_path, Limits(wall_seconds=8, cell_timeout=60),
                               "import time\ntime.sleep(120)", "print('never')")
    assert record.wall_exceeded and record.died_in == "cell 1"
    assert [o.ename for o in nb.cells[1].outputs] == ["KernelDied"]
    assert "wall-clock" in kernel_record.findings(tmp_path)[0][1]


def test_without_namespaces_it_warns_and_still_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "mode", lambda: "rlimits")
    assert "WARNING: NO SANDBOX" in isolation.isolation_report()
    nb, (record,) = _run_cells(tmp_path, LIMITS, "import resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0])")
    assert record.isolation == "rlimits" and nb.cells[0].outputs[0].text.strip() == str(LIMITS.memory_mb << 20)


@needs_full
def test_processes_share_one_memory_limit(tmp_path: Path) -> None:
    if not memory_cgroup.available():
        pytest.skip("no writable cgroup-v1 memory controller: memory is bounded per process only")
    hog = "b = bytearray(450 * 2**20)\nimport time\ntime.sleep(2)"  # each child is far below RLIMIT_AS
    nb, (record,) = _run_cells(tmp_path, Limits(memory_mb=1024, cell_timeout=60),
                               f"import subprocess, sys\nkids = [subprocess.Popen([sys.executable, '-c', {hog!r}]) "
                               "for _ in range(3)]\nprint(sorted(k.wait() for k in kids))")
    assert nb.cells[0].outputs[0].text.strip().startswith("[-9")  # the OOM killer took one child
    assert record.oom_killed and not record.died
    assert kernel_record.findings(tmp_path)[0][0] == "out_of_memory"
