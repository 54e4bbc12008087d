"""Students run the notebooks far from this repository: a fresh virtual environment outside it, holding only a
framework, Jupyter and what the notebooks import, with the oldest numpy and matplotlib tested (TESTED_OLDEST,
which must be what losslab declares); no editable install, no repository on sys.path, the working directory a
temporary folder with copies of the notebooks and the losslab wheel. The first notebook's install cell installs
the wheel; then every lecture twin must run top to bottom and every release notebook may fail only with its
stubs' NotImplementedError.

One environment per framework: TensorFlow 2.21 needs numpy>=1.26, while torch runs on losslab's numpy floor.
Wheels come from a wheelhouse under ~/.cache that survives clean clones; a cold one is filled once with
`pip download` through pip's configured indexes (this machine's mirror, then PyPI). Times are printed.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from importlib.metadata import requires
from pathlib import Path

import pytest

from autograder.release import FRAMEWORK_IMPORT

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("run_notebooks.py")
WHEELHOUSE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "losslab-student-env" / "wheelhouse"
#: The course pins (requirements.txt) a student environment takes, per framework, besides numpy and matplotlib.
FRAMEWORK = {"pytorch": ["torch"], "tensorflow": ["tensorflow-cpu", "keras"]}
NOTEBOOK_STACK = ["scikit-learn", "ipywidgets", "ipykernel", "nbclient", "nbformat"]
#: The oldest numpy and matplotlib the student environments run, and so what losslab may declare as its floor.
TESTED_OLDEST = {"numpy": (1, 24), "matplotlib": (3, 9)}
#: Names the two flavors' README rows use for the frameworks (FRAMEWORK_IMPORT's keys).
LABEL = {"pytorch": "PyTorch", "tensorflow": "TensorFlow"}
SLOW = 3600  # seconds: building an environment unpacks ~1 GB; the other test worker may be busy

pytestmark = pytest.mark.timeout(2 * SLOW)


def course_pins() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return dict(line.split("==", 1) for line in map(str.strip, lines) if "==" in line and not line.startswith("#"))


def floor(requirements: list[str], name: str) -> tuple[int, ...]:
    """The X.Y that `name>=X.Y` requirement strings set (the highest if several; (0,) when unconstrained)."""
    found = [re.search(rf"^{name}\s*>=\s*([\d.]+)", r) for r in requirements]
    return max((tuple(int(p) for p in m.group(1).split(".")[:2]) for m in found if m), default=(0,))


def declared() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def student_specs(framework: str) -> list[str]:
    """What the student environment installs: the course's framework and notebook pins, numpy and matplotlib at
    the oldest minor tested (numpy raised to the framework's own floor where that is higher)."""
    pins = course_pins()
    framework_reqs = [r for dist in FRAMEWORK[framework] for r in (requires(dist) or [])]
    numpy = max(TESTED_OLDEST["numpy"], floor(framework_reqs, "numpy"))
    return ([f"{name}=={pins[name]}" for name in FRAMEWORK[framework] + NOTEBOOK_STACK]
            + [f"{name}=={'.'.join(map(str, version))}.*"
               for name, version in {**TESTED_OLDEST, "numpy": numpy}.items()])


def test_losslab_declares_the_oldest_versions_tested():
    """matplotlib 3.7 and 3.8 fail in a Jupyter kernel with IPython 9 (the default on Python 3.11+): pyplot
    imports IPython.core.pylabtools.backend2gui, which IPython 9 removed; 3.9 is the first that works."""
    floors = {name: floor(declared(), name) for name in TESTED_OLDEST}
    assert floors == TESTED_OLDEST, (f"pyproject.toml declares {floors}, the student environment tests "
                                     f"{TESTED_OLDEST}: make the declaration match what is tested")


def run(cmd: list, timeout: float = SLOW, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kwargs)


def tail(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if not line.startswith("WARNING: Location")]
    return "\n".join(lines[-25:])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The losslab wheel, built by the README's command from a copy of the distribution's files."""
    tree = tmp_path_factory.mktemp("losslab-src")
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(ROOT / "helpers", tree / "helpers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path_factory.mktemp("dist")
    build = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, tree])
    assert build.returncode == 0, tail(build)
    (found,) = dist.glob("losslab-*-py3-none-any.whl")
    return found


def test_wheel_holds_losslab_and_nothing_of_the_instructors(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"losslab", wheel.name.split("-py3")[0] + ".dist-info"}, tops
    assert "losslab/core/history.py" in names and "losslab/torch.py" in names and "losslab/tensorflow.py" in names
    metadata = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-py3')[0]}.dist-info/METADATA").decode()
    assert "Requires-Dist: numpy>=" in metadata and "Requires-Dist: matplotlib>=" in metadata
    assert not re.search(r"^Requires-Dist: (torch|tensorflow)\b(?!.*extra ==)", metadata, re.M)


def build_env(framework: str, where: Path) -> tuple[Path, dict[str, float]]:
    """A fresh venv with the student specs, installed offline from the wheelhouse (filled on a cold cache)."""
    times = {}
    start = time.perf_counter()
    made = run([sys.executable, "-m", "venv", where])
    assert made.returncode == 0, tail(made)
    python = where / "bin" / "python"
    specs = student_specs(framework)
    install = [python, "-m", "pip", "install", "-q", "--no-compile", "--no-index", "--find-links", WHEELHOUSE, *specs]
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    with open(WHEELHOUSE / ".lock", "w") as lock:  # another CI run may be filling the wheelhouse
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = run(install)
        if done.returncode != 0:
            fill = time.perf_counter()
            got = run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", WHEELHOUSE, *specs])
            times["wheelhouse filled"] = time.perf_counter() - fill
            if got.returncode != 0:
                assert "ResolutionImpossible" not in got.stdout + got.stderr, f"the specs conflict: {tail(got)}"
                pytest.skip(f"cannot build the {framework} student environment offline: {WHEELHOUSE} lacks wheels "
                            f"for {specs} and `pip download` failed (no PyPI?):\n{tail(got)}")
            done = run(install)
    assert done.returncode == 0, tail(done)
    times["environment built"] = time.perf_counter() - start
    return python, times


def notebooks(framework: str) -> tuple[list[Path], list[Path]]:
    """(lecture twins, release notebooks) a student of this framework runs, found by glob."""
    lectures = sorted((ROOT / "course" / framework).glob("[0-9][0-9]_*.ipynb"))
    releases = []
    for path in sorted((ROOT / "release").glob("*/*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        uses = [fw for fw in FRAMEWORK if FRAMEWORK_IMPORT[LABEL[fw]].search(code)] or ["pytorch"]
        if framework in uses:
            releases.append(path)
    return lectures, releases


def student_environ(python: Path, home: Path) -> dict[str, str]:
    """The student's shell: no repository path, the venv first on PATH, pip offline (the wheel is at hand)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "JUPYTER_PATH")}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(ROOT))]
    env.update(PATH=os.pathsep.join([str(python.parent), *path]), PIP_NO_INDEX="1", MPLBACKEND="Agg",
               JUPYTER_DATA_DIR=str(home / "jupyter"), JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
               IPYTHONDIR=str(home / "ipython"))
    return env


@pytest.fixture
def env_dir(tmp_path: Path):
    """Where the environment goes; removed afterwards (over 1 GB, and pytest keeps three runs' tmp folders)."""
    yield tmp_path / "env"
    shutil.rmtree(tmp_path / "env", ignore_errors=True)


@pytest.mark.parametrize("framework", list(FRAMEWORK))
def test_student_runs_every_notebook_from_the_wheel(framework: str, wheel: Path, tmp_path: Path, env_dir: Path):
    python, times = build_env(framework, env_dir)
    lectures, releases = notebooks(framework)
    assert lectures, f"no {framework} lecture notebooks found"
    work = tmp_path / "student"
    work.mkdir()
    shutil.copy(wheel, work)
    for path in lectures:
        shutil.copy(path, work)
    for path in releases:
        for item in path.parent.iterdir():  # the notebook and anything it ships with
            if item.is_file():
                shutil.copy(item, work)
    shutil.copy(RUNNER, work)
    env = student_environ(python, tmp_path)

    def runner(*args: str) -> dict:
        proc = run([python, RUNNER.name, *args], cwd=work, env=env)
        assert proc.returncode == 0, tail(proc)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    before = runner("probe")
    assert before["executable"].startswith(str(env_dir)), before["executable"]
    assert not [p for p in before["path"] if p.startswith(str(ROOT))], before["path"]
    assert before["losslab"] is None, "losslab importable before the install cell ran"

    start = time.perf_counter()
    report = runner("run", *(p.name for p in lectures), "--stubs", *(p.name for p in releases))
    times["notebooks run"] = time.perf_counter() - start
    after = runner("probe")
    print(f"\n{framework} student environment ({', '.join(student_specs(framework))}): "
          + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    for name, result in report.items():
        print(f"  {name}: {result['seconds']} s, errors {[(e['cell'], e['ename']) for e in result['errors']]}")

    site = str(env_dir / "lib")
    assert after["losslab"] and after["losslab"].startswith(site), f"losslab not installed from the wheel: {after}"
    failed = {name: r["failure"] for name, r in report.items() if r["failure"]}
    assert not failed, "\n\n".join(f"{name}:\n{text}" for name, text in failed.items())
    for path in releases:
        result = report[path.name]
        assert result["executed"] == result["code_cells"], f"{path.name}: not every cell ran"
        others = [e for e in result["errors"] if e["ename"] != "NotImplementedError"]
        assert not others, f"{path.name}: errors other than the stubs' NotImplementedError: {others}"
        assert result["errors"], f"{path.name}: no stub raised NotImplementedError; is it the student version?"
