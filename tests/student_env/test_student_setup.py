"""Every student notebook (lecture twins and assignment releases) opens with the same two cells from
course/student_install.py, and the README's tables link Colab only when the repository is named."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder import release
from course import student_install

ROOT = Path(__file__).resolve().parents[2]
STUDENT_NOTEBOOKS = sorted([*ROOT.glob("course/*/[0-9][0-9]_*.ipynb"), *ROOT.glob("release/*/*.ipynb")])


@pytest.mark.parametrize("path", STUDENT_NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_student_notebook_starts_with_the_shared_install_cell(path: Path):
    header, install = nbformat.read(path, as_version=4).cells[:2]
    assert header.cell_type == "markdown" and install.cell_type == "code"
    assert install.source == student_install.install_source()
    assert header.source.startswith(student_install.header_markdown(str(path.relative_to(ROOT))))


def test_unpublished_install_cell_names_the_wheel_and_links_nowhere(monkeypatch):
    monkeypatch.setattr(student_install, "REPOSITORY", "")
    cell, header = student_install.install_source(), student_install.header_markdown("release/a/a.ipynb")
    assert "git+" not in cell and "raise ModuleNotFoundError" in cell and student_install.WHEEL_GLOB in cell
    assert "colab.research.google.com" not in header and "Upload notebook" in header
    assert student_install.colab_link("release/a/a.ipynb") == ""


def test_published_repository_gives_release_badges_and_a_git_fallback(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(student_install, "REPOSITORY", "someone/course")
    cell = student_install.install_source()
    assert '"losslab @ git+https://github.com/someone/course@main"' in cell and "raise" not in cell
    block = release.readme_block(release.RELEASE)
    for path in ROOT.glob("release/*/*.ipynb"):
        rel = path.relative_to(ROOT).as_posix()
        url = f"https://colab.research.google.com/github/someone/course/blob/main/{rel}"
        assert f"[![Open In Colab]({student_install.BADGE})]({url}) [{path.parent.name}]({rel})" in block
    copy = tmp_path / "a.ipynb"
    shutil.copy(STUDENT_NOTEBOOKS[-1], copy)
    nb = nbformat.read(copy, as_version=4)
    nb.cells = nb.cells[2:]  # as nbgrader writes it, before the generator adds the two cells
    nbformat.write(nb, copy)
    release.add_student_setup(copy, "release/a/a.ipynb", tmp_path / "versions.json")
    header = nbformat.read(copy, as_version=4).cells[0].source
    assert "someone/course/blob/main/release/a/a.ipynb" in header


def test_readme_assignment_table_names_each_release_and_its_framework():
    block = release.readme_block(release.RELEASE)
    assert block.startswith(release.README_START) and block.endswith(release.README_END)
    rows = [line for line in block.splitlines() if line.startswith("| [")]
    assert len(rows) == len(list(ROOT.glob("release/*/*.ipynb")))
    assert all(("| PyTorch |" in row) or ("| TensorFlow |" in row) for row in rows), rows
    assert all("`" in row.split("|")[3] for row in rows), "each row names the functions a student implements"


def test_install_cell_gives_the_graders_flags_nothing_to_report():
    """The grader compares submissions with nbgrader's release, which lacks the two setup cells: they are read
    as student code there, so they must use nothing autograder/flags.py reports (importlib, sys, ...)."""
    from autograder import flags

    path = sorted(ROOT.glob("release/*/*.ipynb"))[0]
    submitted = nbformat.read(path, as_version=4)
    released = nbformat.read(path, as_version=4)
    released.cells = released.cells[2:]
    assert flags.scan_notebook(submitted, released, path.parent.name) == []
