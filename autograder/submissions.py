"""Find what each student handed in, from a folder of <student>/<aid>/ or a zip of one (or of flat files)."""
from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path

from .results import Submission

SKIP_PARTS = {".ipynb_checkpoints", "__pycache__", "__MACOSX"}

#: zip_collect-style flat names, e.g. alice_a1_loss_curves.ipynb or alice_attempt_2026-11-25_a1_loss_curves.ipynb.
DEFAULT_NAMED_REGEXP = r"^(?P<student_id>[^_/]+)_(?P<file_id>.+\.ipynb)$"


def _files(folder: Path) -> dict[str, bytes]:
    """A submission's files; symlinks are skipped, or a link in a folder students write to would copy any
    file the grader (root) can read into the submission."""
    if folder.is_symlink():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and not SKIP_PARTS & set(p.relative_to(folder).parts)}


def from_folder(root: Path, assignments: list[str]) -> list[Submission]:
    """One Submission per student folder and assignment; a student without an assignment folder gets an empty one."""
    students = sorted(p.name for p in root.iterdir()
                      if p.is_dir() and not p.is_symlink() and not p.name.startswith((".", "_")))
    return [Submission(student, aid, _files(root / student / aid) if (root / student / aid).is_dir() else {})
            for student in students for aid in assignments]


def _assignment_of(file_id: str, assignments: list[str]) -> str | None:
    found = [aid for aid in assignments if aid in file_id]
    if found:
        return max(found, key=len)
    return assignments[0] if len(assignments) == 1 else None


def _layout_zip(extracted: Path, dest: Path, assignments: list[str], named_regexp: str) -> None:
    """Lay a zip's notebooks out as dest/<student>/<aid>/<notebook>.ipynb, the way nbgrader zip_collect does."""
    pattern = re.compile(named_regexp)
    for path in sorted(extracted.rglob("*")):
        rel = path.relative_to(extracted)
        if not path.is_file() or SKIP_PARTS & set(rel.parts):
            continue
        if len(rel.parts) >= 3 and rel.parts[-2] in assignments:  # already <student>/<aid>/<file>
            student, aid, name = rel.parts[-3], rel.parts[-2], rel.name
        else:
            match = pattern.match(rel.name)
            aid = _assignment_of(match.group("file_id"), assignments) if match else None
            if match is None or aid is None:
                continue
            student = match.group("student_id")
            name = f"{aid}.ipynb" if match.group("file_id").endswith(f"{aid}.ipynb") else match.group("file_id")
        target = dest / student / aid / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())


def collect(path: Path, assignments: list[str], named_regexp: str = DEFAULT_NAMED_REGEXP) -> list[Submission]:
    """Every (student, assignment) pair in a submissions folder or zip."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    if path.is_dir():
        return from_folder(path, assignments)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is neither a folder nor a zip file")
    with tempfile.TemporaryDirectory(prefix="autograder-zip-") as tmp:
        extracted, laid_out = Path(tmp) / "extracted", Path(tmp) / "submitted"
        with zipfile.ZipFile(path) as archive:
            archive.extractall(extracted)
        laid_out.mkdir()
        _layout_zip(extracted, laid_out, assignments, named_regexp)
        return from_folder(laid_out, assignments)
