"""The lecture notebooks are generated from course/src: committed files must match, twins must be complete."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from course import build, student_install

ROOT = build.ROOT
NOTEBOOKS = sorted((ROOT / "course").glob("*/[0-9][0-9]_*.ipynb"))
HEADER = """---
kernelspec: {display_name: Python 3, language: python, name: python3}
lecture: {title: Tiny, teaches: nothing much}
---
"""


def source(*cells: str) -> str:
    return HEADER + "\n# Tiny\n\n" + "\n\n".join(cells) + "\n"


def code(text: str, *tags: str) -> str:
    meta = f":tags: [{', '.join(tags)}]\n\n" if tags else ""
    return f"```{{code-cell}} ipython3\n{meta}{text}\n```"


def make_root(tmp_path: Path, text: str, name: str = "01_tiny.md") -> Path:
    (tmp_path / "course" / "src").mkdir(parents=True)
    (tmp_path / "course" / "src" / name).write_text(text)
    (tmp_path / "README.md").write_text(f"# Course\n\nintro\n\n{build.README_START}\nold\n{build.README_END}\n\nend\n")
    return tmp_path


def test_committed_notebooks_and_readme_match_their_sources():
    assert build.differences(build.build(ROOT)) == [], "run `make lectures` and commit the result"


def test_every_lecture_has_both_twins():
    sources = {p.stem for p in (ROOT / "course" / "src").glob("*.md")}
    assert sources, "no lecture sources"
    for framework in build.FRAMEWORKS:
        assert {p.stem for p in (ROOT / "course" / framework).glob("*.ipynb")} == sources, framework


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_notebook_carries_no_outputs(path: Path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_tags_split_cells_between_twins(tmp_path: Path):
    root = make_root(tmp_path, source(code("x = 1"), code("import torch", "pytorch"),
                                      code("import tensorflow as tf", "tensorflow", "hide-input")))
    out = build.build(root)
    torch_nb = json.loads(out[Path("course/pytorch/01_tiny.ipynb")])
    tf_nb = json.loads(out[Path("course/tensorflow/01_tiny.ipynb")])
    torch_code = ["".join(c["source"]) for c in torch_nb["cells"] if c["cell_type"] == "code"]
    tf_cells = [c for c in tf_nb["cells"] if c["cell_type"] == "code"]
    assert torch_code[1:] == ["x = 1", "import torch"]
    assert ["".join(c["source"]) for c in tf_cells[1:]] == ["x = 1", "import tensorflow as tf"]
    assert tf_cells[-1]["metadata"] == {"tags": ["hide-input"]}  # framework tag dropped, pass-through tag kept
    # the shared cell carries the same id in both twins
    assert torch_nb["cells"][3]["id"] == tf_nb["cells"][3]["id"]


def test_header_has_colab_badge_and_the_shared_install_cell(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(student_install, "REPOSITORY", "someone/course")
    nb = json.loads(build.build(make_root(tmp_path, source(code("x = 1"))))[Path("course/tensorflow/01_tiny.ipynb")])
    badge, install = ("".join(c["source"]) for c in nb["cells"][:2])
    url = "https://colab.research.google.com/github/someone/course/blob/main/course/tensorflow/01_tiny.ipynb"
    assert f"({url})" in badge and "colab-badge.svg" in badge and "course/pytorch/01_tiny.ipynb" in badge
    assert install == student_install.install_source() and "git+https://github.com/someone/course@main" in install


def test_unpublished_course_has_no_colab_link_but_says_what_to_do(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(student_install, "REPOSITORY", "")
    out = build.build(make_root(tmp_path, source(code("x = 1"))))
    badge = "".join(json.loads(out[Path("course/pytorch/01_tiny.ipynb")])["cells"][0]["source"])
    assert "colab.research.google.com" not in badge + out[Path("README.md")]
    assert "Upload notebook" in badge and "set `REPOSITORY` in `course/student_install.py`" in badge
    assert "[TensorFlow version](../tensorflow/01_tiny.ipynb)" in badge
    assert "No *Open in Colab* badges yet" in out[Path("README.md")]


@pytest.mark.parametrize("bad, message", [
    (code("x = 1", "pytroch"), r"01_tiny\.md, cell 2 .*unknown tag.*'pytroch'"),
    (code("x = 1", "pytorch", "tensorflow"), r"01_tiny\.md, cell 2: tagged with both"),
    (code("import torch"), r"01_tiny\.md, cell 2 .*imports another framework.*TensorFlow notebook; tag it `pytorch`"),
    (code("from losslab.torch import SimpleNet", "tensorflow"), r"cell 2 .*imports another framework"),
    ("```{raw-cell}\nraw text\n```", r"cell 2: a raw cell"),
])
def test_bad_source_fails_naming_file_and_cell(tmp_path: Path, bad: str, message: str):
    root = make_root(tmp_path, source(code("x = 1"), bad))
    with pytest.raises(build.BuildError, match=message):
        build.build(root)
    assert build.main(["--check", "--root", str(root)]) == 2


def test_source_without_lecture_front_matter_fails(tmp_path: Path):
    root = make_root(tmp_path, "# no front matter\n\n" + code("x = 1") + "\n")
    with pytest.raises(build.BuildError, match="front matter"):
        build.build(root)


def test_ids_are_deterministic_and_unique(tmp_path: Path):
    first, second = build.build(ROOT), build.build(ROOT)
    assert first == second
    for rel, text in first.items():
        if rel.suffix == ".ipynb":
            ids = [c["id"] for c in json.loads(text)["cells"]]
            assert len(ids) == len(set(ids)) and all(re.fullmatch(r"l\d\d-[a-z0-9]+", i) for i in ids), rel


def test_check_reports_changed_missing_and_stale_files(tmp_path: Path, capsys):
    root = make_root(tmp_path, source(code("x = 1"), code("import torch", "pytorch")))
    assert build.main(["--check", "--root", str(root)]) == 1
    assert "missing: course/pytorch/01_tiny.ipynb" in capsys.readouterr().out
    assert build.main(["--root", str(root)]) == 0
    assert build.main(["--check", "--root", str(root)]) == 0
    readme = (root / "README.md").read_text()
    assert readme.startswith("# Course\n\nintro\n\n") and readme.endswith("\n\nend\n")  # only the block changes
    assert "[ipynb](course/pytorch/01_tiny.ipynb)" in readme and "old" not in readme
    nb_path = root / "course/pytorch/01_tiny.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    nb_path.write_text(json.dumps(nb))
    (root / "course/tensorflow/02_gone.ipynb").write_text("{}")
    capsys.readouterr()
    assert build.main(["--check", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "differs: course/pytorch/01_tiny.ipynb" in out and "stale (no source): course/tensorflow/02_gone.ipynb" in out
    assert build.main(["--root", str(root)]) == 0
    assert not (root / "course/tensorflow/02_gone.ipynb").exists()
    assert build.main(["--check", "--root", str(root)]) == 0


def test_readme_without_markers_fails(tmp_path: Path):
    root = make_root(tmp_path, source(code("x = 1")))
    (root / "README.md").write_text("# Course\n")
    with pytest.raises(build.BuildError, match="markers"):
        build.build(root)
