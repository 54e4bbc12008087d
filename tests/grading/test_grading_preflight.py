"""A grader that refuses to grade blind: a kernel that cannot start, a --named-regexp that matches nothing or
names no student, and a folder or zip with no submission each stop with the reason and a non-zero exit."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from autograder import preflight
from autograder.submissions import NoSubmissions, collect

AIDS = ["a1_loss_curves", "a2_losses_optimizers"]


@pytest.fixture
def broken_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A python3 kernelspec whose interpreter is gone, as in a .venv copied from another machine."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(tmp_path / "copied-venv" / "bin" / "python"), "-m", "ipykernel_launcher", "-f",
                 "{connection_file}"], "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return spec


def test_preflight_passes_where_a_kernel_starts():
    preflight.check()  # raises PreflightFailed with the reason otherwise


def test_preflight_stops_on_a_kernel_that_cannot_start(broken_kernel):
    with pytest.raises(preflight.PreflightFailed) as failed:
        preflight.check()
    message = str(failed.value)
    assert "Nothing was graded" in message
    assert "exit code 127" in message or "No such file" in message, message


def _flat_zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, "{}")
    return path


def test_a_regexp_that_matches_nothing_names_each_skipped_file(tmp_path):
    archive = _flat_zip(tmp_path / "canvas.zip", ["alice_123_456_a1_loss_curves.ipynb", "bob_789_a1_loss_curves.ipynb"])
    with pytest.raises(NoSubmissions) as error:
        collect(archive, AIDS, named_regexp=r"^(?P<student_id>\d+)-(?P<file_id>.+)$")
    message = str(error.value)
    assert "alice_123_456_a1_loss_curves.ipynb: name not matched by --named-regexp" in message
    assert "bob_789_a1_loss_curves.ipynb" in message and "2 file(s) skipped" in message


def test_a_regexp_without_a_student_id_group_is_refused(tmp_path):
    archive = _flat_zip(tmp_path / "canvas.zip", ["alice_a1_loss_curves.ipynb"])
    with pytest.raises(ValueError, match="student_id"):
        collect(archive, AIDS, named_regexp=r"^(?P<name>[^_]+)_(?P<file_id>.+)$")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        collect(archive, AIDS, named_regexp=r"^(?P<student_id>[^_]+")


def test_files_that_name_no_assignment_say_so(tmp_path):
    archive = _flat_zip(tmp_path / "other.zip", ["alice_homework7.ipynb", "__MACOSX/._alice_homework7.ipynb"])
    with pytest.raises(NoSubmissions) as error:
        collect(archive, AIDS)
    message = str(error.value)
    assert "alice_homework7.ipynb: names no assignment (one of a1_loss_curves, a2_losses_optimizers)" in message
    assert "__MACOSX/._alice_homework7.ipynb: editor or archiver metadata" in message


def test_a_folder_without_any_submission_names_what_it_skipped(tmp_path):
    root = tmp_path / "class"
    (root / "alice" / "homework7").mkdir(parents=True)
    (root / "alice" / "homework7" / "notebook.ipynb").write_text("{}")
    (root / "bob_a1_loss_curves.ipynb").write_text("{}")
    with pytest.raises(NoSubmissions) as error:
        collect(root, AIDS)
    message = str(error.value)
    assert "alice/homework7/notebook.ipynb: not inside alice/<assignment>/" in message
    assert "bob_a1_loss_curves.ipynb: not inside a <student>/ folder" in message
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoSubmissions, match="no files at all"):
        collect(empty, AIDS)


def test_a_partly_readable_folder_still_grades_who_handed_in(tmp_path):
    root = tmp_path / "class"
    (root / "alice" / "a1_loss_curves").mkdir(parents=True)
    (root / "alice" / "a1_loss_curves" / "a1_loss_curves.ipynb").write_text("{}")
    (root / "notes.txt").write_text("not a submission")
    assert [(s.student, s.assignment, bool(s.files)) for s in collect(root, AIDS)] == [
        ("alice", "a1_loss_curves", True), ("alice", "a2_losses_optimizers", False)]
def test_grade_command_exits_nonzero_and_grades_nothing_when_the_kernel_cannot_start(broken_kernel, tmp_path, capsys):
    from autograder.cli import main

    out = tmp_path / "out"
    code = main(["grade", "--out", str(out), "--workers", "1", "--quiet", "--assignments", "a1_loss_curves"])
    assert code != 0
    assert "could not run" in capsys.readouterr().err
    assert not (out / "grades.csv").exists() and not (out / "feedback").exists()


@pytest.mark.parametrize("args,expected", [
    (["--named-regexp", r"^(?P<id>[^_]+)_(?P<file_id>.+)$"], "student_id"),
    (["--named-regexp", r"^(?P<student_id>\d+)_(?P<file_id>.+)$"], "name not matched by --named-regexp"),
])
def test_grade_command_exits_nonzero_on_a_zip_with_no_submission(tmp_path, capsys, args, expected):
    from autograder.cli import main

    archive = _flat_zip(tmp_path / "canvas.zip", ["alice_a1_loss_curves.ipynb"])
    out = tmp_path / "out"
    code = main(["grade", str(archive), "--out", str(out), "--workers", "1", "--quiet", *args])
    assert code != 0 and expected in capsys.readouterr().err
    assert not (out / "grades.csv").exists()
