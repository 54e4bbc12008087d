"""Finding submissions in folders and zips (no grading: fast)."""
from __future__ import annotations

import zipfile
from pathlib import Path

from autograder.submissions import collect

AIDS = ["a1_loss_curves", "a2_losses_optimizers"]


def _folder(root: Path) -> Path:
    (root / "alice" / "a1_loss_curves").mkdir(parents=True)
    (root / "alice" / "a1_loss_curves" / "a1_loss_curves.ipynb").write_text("{}")
    (root / "alice" / "a1_loss_curves" / ".ipynb_checkpoints").mkdir()
    (root / "alice" / "a1_loss_curves" / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    (root / "bob").mkdir()
    (root / "bob" / "expected.json").write_text("{}")
    return root


def _pairs(subs) -> dict[tuple[str, str], list[str]]:
    return {(s.student, s.assignment): sorted(s.files) for s in subs}


def test_folder_lists_every_student_and_assignment(tmp_path):
    subs = collect(_folder(tmp_path / "class"), AIDS)
    assert _pairs(subs) == {("alice", "a1_loss_curves"): ["a1_loss_curves.ipynb"],
                            ("alice", "a2_losses_optimizers"): [],
                            ("bob", "a1_loss_curves"): [], ("bob", "a2_losses_optimizers"): []}


def test_zip_of_the_folder_layout_under_a_top_folder(tmp_path):
    folder = _folder(tmp_path / "class")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.rglob("*"):
            if path.is_file():
                zf.write(path, Path("export") / path.relative_to(folder))
    assert _pairs(collect(archive, AIDS))[("alice", "a1_loss_curves")] == ["a1_loss_curves.ipynb"]


def test_zip_of_flat_zip_collect_names(tmp_path):
    archive = tmp_path / "flat.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("carol_attempt_2026-11-25_a2_losses_optimizers.ipynb", "{}")
        zf.writestr("dave_a1_loss_curves.ipynb", "{}")
        zf.writestr("readme.txt", "not a submission")
    pairs = _pairs(collect(archive, AIDS))
    assert pairs[("carol", "a2_losses_optimizers")] == ["a2_losses_optimizers.ipynb"]
    assert pairs[("dave", "a1_loss_curves")] == ["a1_loss_curves.ipynb"]
    assert pairs[("carol", "a1_loss_curves")] == []
