"""release/ regenerated from source/ through nbgrader, byte-stable so that `--check` can prove nothing drifted."""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import nbformat

from .course import REPO, SOURCE, build_course, source_assignments

RELEASE = REPO / "release"

#: Notebook metadata that records where or when a notebook ran, not what it says.
VOLATILE_NB_METADATA = ("widgets", "toc", "varInspector", "vscode", "colab", "celltoolbar")
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled", "jupyter")


def normalize_notebook(path: Path) -> None:
    """Rewrite a generated notebook without volatile metadata and with stable cell ids."""
    nb = nbformat.read(path, as_version=4)
    for key in VOLATILE_NB_METADATA:
        nb.metadata.pop(key, None)
    for index, cell in enumerate(nb.cells):
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if not cell.get("id"):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            cell["id"] = grade_id or hashlib.sha1(f"{index}:{cell.source}".encode()).hexdigest()[:12]
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def generate(dest: Path, assignments: list[str] | None = None, source: Path = SOURCE) -> list[str]:
    """Write release/<aid>/ for each assignment into dest (replacing it); return the assignment ids."""
    assignments = assignments or source_assignments(source)
    with tempfile.TemporaryDirectory(prefix="autograder-release-") as tmp:
        root = Path(tmp)
        build_course(root, assignments, source)
        for aid in assignments:
            for nb_path in (root / "release" / aid).rglob("*.ipynb"):
                normalize_notebook(nb_path)
            shutil.rmtree(dest / aid, ignore_errors=True)
            shutil.copytree(root / "release" / aid, dest / aid)
    return assignments


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts}


def check(release: Path = RELEASE, source: Path = SOURCE) -> list[str]:
    """Differences between the committed release and a fresh one: empty when they match."""
    with tempfile.TemporaryDirectory(prefix="autograder-release-check-") as tmp:
        fresh_root = Path(tmp)
        generate(fresh_root, source=source)
        fresh, committed = _files(fresh_root), _files(release) if release.exists() else {}
    problems = [f"missing from release/: {p}" for p in sorted(fresh.keys() - committed.keys())]
    problems += [f"not generated from source/: {p}" for p in sorted(committed.keys() - fresh.keys())]
    problems += [f"differs from a fresh release: {p}" for p in sorted(fresh.keys() & committed.keys())
                 if fresh[p] != committed[p]]
    return problems
