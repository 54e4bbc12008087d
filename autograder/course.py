"""Fresh nbgrader course directories: one per run for the release, one per submission for grading."""
from __future__ import annotations

import datetime
import functools
import io
import os
import shutil
import sys
import tarfile
import tempfile
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets.config import Config

if TYPE_CHECKING:
    from .roster import Roster

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "source"

#: nbgrader converters chdir into the course root: one conversion at a time per process.
_NBGRADER_LOCK = threading.Lock()


class NbgraderFailed(RuntimeError):
    """An nbgrader step reported failure; the message carries its log."""


def ensure_alembic_on_path() -> None:
    """nbgrader runs `alembic` from PATH when it creates a gradebook: use the one next to this Python."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def source_assignments(source: Path = SOURCE) -> list[str]:
    """Assignment ids: the folders of source/ that hold a notebook."""
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def run_converter(converter_cls: type, config: Config, **attrs: Any) -> dict[str, Any]:
    """Run one nbgrader converter in-process and return nbgrader's {success, log, error} dict."""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    ensure_alembic_on_path()
    with _NBGRADER_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy and nbformat noise, not the student's
        coursedir = CourseDirectory(config=config)
        for name in ("assignment_id", "student_id"):
            if name in attrs:
                setattr(coursedir, name, attrs.pop(name))
        converter = converter_cls(coursedir=coursedir, config=config)
        for name, value in attrs.items():
            setattr(converter, name, value)
        return capture_log(converter)


@functools.lru_cache(maxsize=1)
def _empty_gradebook() -> bytes:
    """An empty gradebook, made once per process: creating one runs `alembic` in a subprocess (seconds)."""
    from nbgrader.api import Gradebook

    ensure_alembic_on_path()
    with tempfile.TemporaryDirectory(prefix="autograder-gradebook-") as tmp:
        path = Path(tmp) / "gradebook.db"
        Gradebook(f"sqlite:///{path}").close()
        return path.read_bytes()


def build_course(root: Path, assignments: list[str], source: Path = SOURCE, roster: Roster | None = None,
                 due: datetime.datetime | None = None) -> None:
    """Copy source/<aid> into root and run generate_assignment: root then holds release/ and gradebook.db, with the
    roster's students and the due date (of every assignment) in the gradebook when given, and the release history
    of the source's release/ folder (release/versions.json beside source/) in versions.json."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import ClearSolutions

    from .config import course_config
    from .stubs import MessageStubs
    from .versions import HISTORY

    root.mkdir(parents=True, exist_ok=True)
    (root / "gradebook.db").write_bytes(_empty_gradebook())
    config = course_config(root)  # nbgrader's steps, with stubs that say what to write (autograder.stubs)
    config.GenerateAssignment.preprocessors = [MessageStubs if p is ClearSolutions else p
                                               for p in GenerateAssignment.class_traits()["preprocessors"].default()]
    history = Path(source).parent / "release" / HISTORY
    if history.is_file():
        shutil.copyfile(history, root / HISTORY)
    for aid in assignments:
        shutil.copytree(source / aid, root / "source" / aid,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        result = run_converter(GenerateAssignment, config, assignment_id=aid, force=True, create_assignment=True)
        if not result["success"]:
            raise NbgraderFailed(f"generate_assignment {aid} failed:\n{result.get('log', '')}\n{result.get('error', '')}")
    if roster is not None or due is not None:
        _record_class(root, assignments, roster, due)


def _record_class(root: Path, assignments: list[str], roster: Roster | None, due: datetime.datetime | None) -> None:
    """The roster's students and the due date, in the course's gradebook through nbgrader's API (nbgrader then
    computes each submission's lateness from its timestamp.txt)."""
    from nbgrader.api import Gradebook

    from .lateness import to_utc

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        if roster is not None:
            roster.import_into(gb)
        if due is not None:
            for aid in assignments:
                gb.update_or_create_assignment(aid, duedate=to_utc(due))


def pack(root: Path) -> bytes:
    """A course directory as tar bytes, so a worker on another machine can rebuild it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(root, arcname=".")
    return buf.getvalue()


def unpack(data: bytes, root: Path) -> None:
    """Rebuild a packed course directory under root."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(root, filter="data")
