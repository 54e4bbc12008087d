"""release/ regenerated from source/ through nbgrader, byte-stable so that `--check` can prove nothing drifted.

Every student notebook opens with the same two cells as the lectures (course/student_install.py): how to get it
into Colab, and the install cell for `losslab`. Regenerating the repository's release/ also rewrites the README's
assignment table, whose Colab links come from that same module.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell

from course.student_install import colab_link, header_markdown, install_source, readme_note

from . import versions
from .course import REPO, SOURCE, build_course, source_assignments

RELEASE = REPO / "release"
README = REPO / "README.md"
README_START, README_END = "<!-- assignments:start -->", "<!-- assignments:end -->"
FRAMEWORK_IMPORT = {"PyTorch": re.compile(r"^\s*(import|from)\s+torch\b", re.M),
                    "TensorFlow": re.compile(r"^\s*(import|from)\s+(tensorflow|keras)\b", re.M)}

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


def add_student_setup(path: Path, repo_path: str, history: Path) -> None:
    """Put the lectures' two opening cells (Colab header, losslab install cell) in front of a release notebook.
    Plain cells, unknown to nbgrader: grading ignores them, and in the grader's kernel losslab is installed.
    Then stamp the notebook with its release version, recorded in `history` when new (autograder.versions)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells[:0] = [new_markdown_cell(header_markdown(repo_path), id="student-colab"),
                    new_code_cell(install_source(), id="student-install")]
    versions.record(history, repo_path.removeprefix("release/"), nb)
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def generate(dest: Path, assignments: list[str] | None = None, source: Path = SOURCE) -> list[str]:
    """Write release/<aid>/ for each assignment into dest (replacing it); return the assignment ids. Tests that
    changed since the last release are recorded as a new version in dest/versions.json. For the repository's own
    release/ also rewrite the README's assignment table."""
    assignments = assignments or source_assignments(source)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="autograder-release-") as tmp:
        root = Path(tmp)
        build_course(root, assignments, source)
        for aid in assignments:
            for nb_path in (root / "release" / aid).rglob("*.ipynb"):
                normalize_notebook(nb_path)
                add_student_setup(nb_path, f"release/{nb_path.relative_to(root / 'release').as_posix()}",
                                  dest / versions.HISTORY)
            shutil.rmtree(dest / aid, ignore_errors=True)
            shutil.copytree(root / "release" / aid, dest / aid)
    if dest.resolve() == RELEASE.resolve():
        README.write_text(render_readme(README.read_text(encoding="utf-8"), dest), encoding="utf-8")
    return assignments


def _summary(nb: NotebookNode) -> tuple[str, str]:
    """(framework, what the student implements): read from the notebook's imports and solution cells."""
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    framework = " + ".join(name for name, pattern in FRAMEWORK_IMPORT.items() if pattern.search(code)) or "-"
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    names = [f"`{name}`" for c in solutions if c.cell_type == "code"
             for name in re.findall(r"^(?:def|class)\s+(\w+)", c.source, re.M)]
    written = sum(c.cell_type == "markdown" for c in solutions)
    if written:
        names.append(f"{written} written answer{'s' * (written > 1)}")
    return framework, ", ".join(names)


def readme_block(release: Path) -> str:
    """The README's table of the assignment notebooks in `release`, with their Colab links."""
    rows = ["| assignment | framework | you implement |", "|---|---|---|"]
    for path in sorted(release.glob("*/*.ipynb")):
        rel = f"release/{path.relative_to(release).as_posix()}"
        framework, implement = _summary(nbformat.read(path, as_version=4))
        rows.append(f"| {colab_link(rel)}[{path.parent.name}]({rel}) | {framework} | {implement} |")
    intro = "Assignments (student versions, generated from `source/` into `release/` by `make release`):\n"
    return "\n".join([README_START, intro, *rows, README_END])


def render_readme(text: str, release: Path) -> str:
    """Replace only the block between the assignment markers; the rest of the README is not ours."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md lacks the markers {README_START} ... {README_END}")
    return text[:start] + readme_block(release) + text[end + len(README_END):]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts}


def check(release: Path = RELEASE, source: Path = SOURCE) -> list[str]:
    """Differences between the committed release and a fresh one: empty when they match. The fresh one starts from
    the committed version history, so tests changed without a release show as a new version."""
    with tempfile.TemporaryDirectory(prefix="autograder-release-check-") as tmp:
        fresh_root = Path(tmp)
        if (release / versions.HISTORY).is_file():
            shutil.copyfile(release / versions.HISTORY, fresh_root / versions.HISTORY)
        generate(fresh_root, source=source)
        fresh, committed = _files(fresh_root), _files(release) if release.exists() else {}
    problems = [f"missing from release/: {p}" for p in sorted(fresh.keys() - committed.keys())]
    problems += [f"not generated from source/: {p}" for p in sorted(committed.keys() - fresh.keys())]
    problems += [f"differs from a fresh release: {p}" for p in sorted(fresh.keys() & committed.keys())
                 if fresh[p] != committed[p]]
    if release.resolve() == RELEASE.resolve():
        readme = README.read_text(encoding="utf-8")
        if render_readme(readme, release) != readme:
            problems.append("README.md: the assignment table differs from release/")
    return problems
