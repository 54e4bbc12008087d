"""release/ is generated from source/ and free of solutions and hidden tests; graded cells carry points that add
up to what the instructions say; the sample class is exactly what its build script makes."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import nbformat
import pytest

from autograder.course import REPO, source_assignments

ASSIGNMENTS = source_assignments()
#: A few lines of the solutions and hidden tests, named by hand on top of the ones found from the markers.
KNOWN_SECRETS = [
    "total += loss.item() * len(inputs)",
    "if best < len(val) - 1 and val[-1] > 1.1 * val[best] and train[-1] < train[best]:",
    "shifted = logits - logits.max(dim=1, keepdim=True).values",
    "m_hat = m / (1 - self.beta1 ** self.t)",
    "scale = max_norm / max(norm, max_norm)",
    "loss = loss_fn(y, model(x, training=True))",
    "_twin.optimizer.learning_rate = float(_lr)",
    "net[2].bias.requires_grad_(False)",
    '("overfitting", _run(seed=5, n_samples=120',
]


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem + "_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_roundtrip = _load(REPO / "tests" / "assignments" / "conftest.py")


def _release_text(aid: str) -> str:
    nb = nbformat.read(REPO / "release" / aid / f"{aid}.ipynb", as_version=4)
    return "\n".join(cell.source for cell in nb.cells)


def test_regenerating_the_release_changes_nothing_committed():
    run = subprocess.run([sys.executable, "-m", "autograder", "release", "--check"], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_holds_no_solution_and_no_hidden_test(aid):
    text = _release_text(aid)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "**Rubric",
                   "**Model answer"):
        assert marker not in text, f"release/{aid} contains {marker!r}"
    secrets = [line for begin, end in (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))
               for lines in _roundtrip.secret_lines(aid, begin, end).values() for line in lines]
    assert len(secrets) >= 15, "too few distinctive lines found in the source to make this check meaningful"
    source = "\n".join(c.source for c in nbformat.read(REPO / "source" / aid / f"{aid}.ipynb", 4).cells)
    secrets += [line for line in KNOWN_SECRETS if line in source]
    leaked = [line for line in secrets if line in text]
    assert leaked == [], f"release/{aid} shows solution or hidden-test lines: {leaked[:5]}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_every_graded_cell_has_points_and_the_totals_match_the_instructions(aid):
    nb = nbformat.read(REPO / "source" / aid / f"{aid}.ipynb", as_version=4)
    graded = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert all(c.metadata["nbgrader"].get("points", 0) > 0 for c in graded)
    auto = sum(c.metadata["nbgrader"]["points"] for c in graded if c.cell_type == "code")
    manual = sum(c.metadata["nbgrader"]["points"] for c in graded if c.cell_type == "markdown")
    intro = nb.cells[0].source
    assert f"{auto} points are autograded" in intro and f"({manual} points" in intro, (auto, manual)
    hidden = [c for c in graded if "BEGIN HIDDEN TESTS" in c.source]
    assert hidden and all(c.source.lstrip().startswith("# Hidden test") for c in hidden)
    # Robust to the student's namespace: every test imports what it compares with, under private names.
    for cell in graded:
        if cell.cell_type == "code":
            assert "from losslab.grading import" in cell.source, cell.metadata["nbgrader"]["grade_id"]


def test_sample_class_is_what_its_build_script_makes():
    build = _load(REPO / "autograder" / "sample_class" / "build.py")
    files = build.build()
    stale = [p for p, text in files.items()
             if (build.HERE / p).read_text(encoding="utf-8") != text]
    assert stale == [], f"run python autograder/sample_class/build.py: {stale}"
    for student in build.CLASS:
        expected = json.loads((build.HERE / student / "expected.json").read_text())
        assert set(expected) == set(ASSIGNMENTS)
