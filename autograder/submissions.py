"""Find what each student handed in, from a folder of <student>/<aid>/ or a zip of one (or of flat files), and
when: nbgrader's timestamp.txt, the LMS's LATE marker in a file name, or the file's time against a due date."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from .lateness import Lateness, to_utc
from .results import Submission
from .roster import Roster

SKIP_PARTS = {".ipynb_checkpoints", "__pycache__", "__MACOSX"}

#: zip_collect-style flat names, e.g. alice_a1_loss_curves.ipynb or alice_attempt_2026-11-25_a1_loss_curves.ipynb.
DEFAULT_NAMED_REGEXP = r"^(?P<student_id>[^_/]+)_(?P<file_id>.+\.ipynb)$"
#: Canvas' "Download submissions" names: <sortablename>_[LATE_]<canvas user id>_<submission id>_<file name>; the
#: roster maps the Canvas user id (its "ID" column) to the student id. `--named-regexp canvas` selects it.
CANVAS_NAMED_REGEXP = (r"^(?P<name>[^_]+)_(?:(?P<late>(?i:late))_)?(?P<student_id>\d+)_(?P<submission_id>\d+)_"
                       r"(?P<file_id>.+\.ipynb)$")
NAMED_REGEXPS = {"canvas": CANVAS_NAMED_REGEXP, "zip_collect": DEFAULT_NAMED_REGEXP}
#: A LATE token between underscores, outside the student id and the file's own name.
LATE_TOKEN = re.compile(r"(?:^|_)late(?:_|$)", re.I)
#: Skipped files named in an error, at most.
SHOWN_SKIPPED = 20


class BadSubmissions(ValueError):
    """The submissions path or --named-regexp cannot be used: the message says why and what to do."""


class NoSubmissions(BadSubmissions):
    """Nothing in a folder or zip could be taken as a submission: the message lists what was skipped and why."""


def named_pattern(named_regexp: str) -> re.Pattern[str]:
    """The --named-regexp (or a name from NAMED_REGEXPS), compiled, with the student_id group it must have."""
    named_regexp = NAMED_REGEXPS.get(named_regexp, named_regexp)
    try:
        pattern = re.compile(named_regexp)
    except re.error as exc:
        raise BadSubmissions(f"--named-regexp {named_regexp!r} is not a valid regular expression: {exc}") from None
    if "student_id" not in pattern.groupindex:
        raise BadSubmissions(f"--named-regexp {named_regexp!r} has no (?P<student_id>...) group, so no file name "
                             f"can say whose it is; the default is {DEFAULT_NAMED_REGEXP!r}")
    return pattern


def _files(folder: Path) -> dict[str, bytes]:
    """A submission's files; symlinks are skipped, or a link in a folder students write to would copy any
    file the grader (root) can read into the submission."""
    if folder.is_symlink():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and not SKIP_PARTS & set(p.relative_to(folder).parts)}


def from_folder(root: Path, assignments: list[str]) -> list[Submission]:
    """One Submission per student folder and assignment; a student without an assignment folder gets an empty one."""
    return [Submission(student, aid, _files(root / student / aid) if (root / student / aid).is_dir() else {})
            for student in _students(root) for aid in assignments]


def _students(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.is_symlink() and not p.name.startswith((".", "_")))


def _skipped_in_folder(root: Path, assignments: list[str]) -> list[tuple[str, str]]:
    """(path, why) of every file from_folder does not take, for an error that says what happened."""
    students, skipped = set(_students(root)), []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() and not path.is_symlink():
            continue
        if path.is_symlink() or any(p.is_symlink() for p in list(path.parents)[: len(rel.parts) - 1]):
            skipped.append((str(rel), "a symbolic link (never followed)"))
        elif rel.parts[0] not in students:
            why = "a hidden or private folder" if len(rel.parts) > 1 else "not inside a <student>/ folder"
            skipped.append((str(rel), why))
        elif len(rel.parts) < 3 or rel.parts[1] not in assignments:
            skipped.append((str(rel), f"not inside {rel.parts[0]}/<assignment>/ with <assignment> one of "
                                      f"{', '.join(assignments)}"))
        elif SKIP_PARTS & set(rel.parts):
            skipped.append((str(rel), "editor or archiver metadata"))
    return skipped


def _nothing_found(path: Path, skipped: list[tuple[str, str]], flat_names: bool, named_regexp: str) -> NoSubmissions:
    shown = [f"  {name}: {why}" for name, why in skipped[:SHOWN_SKIPPED]]
    if len(skipped) > SHOWN_SKIPPED:
        shown.append(f"  ... and {len(skipped) - SHOWN_SKIPPED} more")
    what = f"{len(skipped)} file(s) skipped:" if skipped else "it holds no files at all."
    hint = ("Expected <student>/<assignment>/*.ipynb"
            + (f", or flat names matched by --named-regexp {named_regexp!r} (student_id and file_id groups)."
               if flat_names else " (a zip may also hold flat zip_collect names, see --named-regexp)."))
    return NoSubmissions("\n".join([f"no submission found in {path}: {what}", *shown, hint]))


def _assignment_of(file_id: str, assignments: list[str]) -> str | None:
    found = [aid for aid in assignments if aid in file_id]
    if found:
        return max(found, key=len)
    return assignments[0] if len(assignments) == 1 else None


def _late_marker(name: str, match: re.Match[str]) -> bool:
    """Whether a matched flat file name carries the LMS's LATE marker: the regexp's `late` group, else a LATE
    token in the name outside the student id and the file's own name."""
    if "late" in match.re.groupindex:
        return bool(match.group("late"))
    end = match.start("file_id") if "file_id" in match.re.groupindex and match.group("file_id") else len(name)
    start, stop = match.span("student_id")
    return bool(LATE_TOKEN.search(name[:start] + "_" + name[stop:end]))


def _layout_zip(extracted: Path, dest: Path, assignments: list[str], named_regexp: str, roster: Roster | None
                ) -> tuple[list[tuple[str, str]], set[tuple[str, str]]]:
    """Lay a zip's notebooks out as dest/<student>/<aid>/<notebook>.ipynb, the way nbgrader zip_collect does, each
    file keeping its time; returns (file, why) for every file it skipped, and the
    (student, assignment) pairs whose file names carry the LMS's LATE marker."""
    pattern, skipped, marked = named_pattern(named_regexp), [], set()
    for path in sorted(extracted.rglob("*")):
        rel = path.relative_to(extracted)
        if not path.is_file():
            continue
        if SKIP_PARTS & set(rel.parts):
            skipped.append((str(rel), "editor or archiver metadata"))
            continue
        if len(rel.parts) >= 3 and rel.parts[-2] in assignments:  # already <student>/<aid>/<file>
            student, aid, name = rel.parts[-3], rel.parts[-2], rel.name
        else:
            match = pattern.match(rel.name)
            if match is None or not match.group("student_id"):
                skipped.append((str(rel), f"name not matched by --named-regexp {pattern.pattern!r}" if match is None
                                else "--named-regexp matched an empty student_id"))
                continue
            file_id = match.groupdict().get("file_id") or rel.name
            aid = _assignment_of(file_id, assignments)
            if aid is None:
                skipped.append((str(rel), f"names no assignment (one of {', '.join(assignments)})"))
                continue
            student = match.group("student_id")
            name = f"{aid}.ipynb" if file_id.endswith(f"{aid}.ipynb") else file_id
            if _late_marker(rel.name, match):
                marked.add((_known_as(student, roster), aid))
        target = dest / _known_as(student, roster) / aid / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        shutil.copystat(path, target)
    return skipped, marked


def _known_as(student: str, roster: Roster | None) -> str:
    """The student id grading uses for a folder or file-name id: the roster's, when the roster knows it."""
    return (roster.student_id(student) if roster else None) or student


def _lateness(sub: Submission, folder: Path, due: dt.datetime | None, marked: bool) -> Lateness:
    """When it came in: nbgrader's timestamp.txt when the submission has one, else (only to judge against a due
    date) its newest notebook's file time."""
    from nbgrader.utils import parse_utc

    when = None
    if "timestamp.txt" in sub.files:
        try:
            when = parse_utc(sub.files["timestamp.txt"].decode("utf-8", "replace").strip())
        except (ValueError, OverflowError):
            when = None
    elif due is not None:
        times = [(folder / name).stat().st_mtime for name in sub.files if name.endswith(".ipynb")]
        when = dt.datetime.fromtimestamp(max(times), dt.timezone.utc).replace(tzinfo=None) if times else None
    return Lateness(when, to_utc(due) if due else None, marked)


def _dated(subs: list[Submission], root: Path, due: dt.datetime | None, marked: set[tuple[str, str]]
           ) -> list[Submission]:
    """Each handed-in submission with its time (nbgrader's timestamp.txt among its files) and its lateness."""
    dated = []
    for sub in subs:
        if not sub.files:
            dated.append(sub)
            continue
        late = _lateness(sub, root / sub.student / sub.assignment, due, (sub.student, sub.assignment) in marked)
        files = {name: data for name, data in sub.files.items() if name != "timestamp.txt"}
        if late.submitted_at is not None:  # nbgrader's format (an unreadable one would fail the whole autograde)
            files["timestamp.txt"] = late.timestamp().encode()
        dated.append(dataclasses.replace(sub, files=files, submitted_at=late.iso(), late=late.describe()))
    return dated


def _with_roster(subs: list[Submission], roster: Roster | None, assignments: list[str]) -> list[Submission]:
    """Every roster student gets a row for every assignment (`missing` when nothing came in)."""
    if roster is None:
        return subs
    have = {(s.student, s.assignment) for s in subs}
    extra = [Submission(sid, aid) for sid in roster.ids() for aid in assignments if (sid, aid) not in have]
    return sorted(subs + extra, key=lambda s: (s.student, assignments.index(s.assignment)))


def collect(path: Path, assignments: list[str], named_regexp: str = DEFAULT_NAMED_REGEXP,
            roster: Roster | None = None, due: dt.datetime | None = None) -> list[Submission]:
    """Every (student, assignment) pair in a submissions folder or zip (with a roster: every roster student too),
    with when each came in and whether it was late. Raises NoSubmissions, naming each skipped file and why, when no
    student handed in anything: grading that would only produce a table of `missing`."""
    path = Path(path)
    named_pattern(named_regexp)
    if not path.exists():
        raise BadSubmissions(f"{path} does not exist")
    if path.is_dir():
        found = from_folder(path, assignments)
        if not any(s.files for s in found):
            raise _nothing_found(path, _skipped_in_folder(path, assignments), False, named_regexp)
        dated = [dataclasses.replace(s, student=_known_as(s.student, roster)) for s in _dated(found, path, due, set())]
        return _with_roster(dated, roster, assignments)
    if not zipfile.is_zipfile(path):
        raise BadSubmissions(f"{path} is neither a folder nor a zip file")
    with tempfile.TemporaryDirectory(prefix="autograder-zip-") as tmp:
        extracted, laid_out = Path(tmp) / "extracted", Path(tmp) / "submitted"
        zone = due.tzinfo if due is not None else None
        with zipfile.ZipFile(path) as archive:
            archive.extractall(extracted)
            for info in archive.infolist():  # extractall drops the times; the zip's wall clock, read in `zone`
                moment = to_utc(dt.datetime(*info.date_time), zone).replace(tzinfo=dt.timezone.utc).timestamp()
                target = extracted / info.filename
                if target.is_file():
                    os.utime(target, (moment, moment))
        laid_out.mkdir()
        skipped, marked = _layout_zip(extracted, laid_out, assignments, named_regexp, roster)
        found = from_folder(laid_out, assignments)
        if not any(s.files for s in found):
            raise _nothing_found(path, skipped, True, named_regexp)
        return _with_roster(_dated(found, laid_out, due, marked), roster, assignments)

