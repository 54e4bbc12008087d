"""A class roster read from the CSV an LMS exports (Canvas' gradebook or people export, Moodle's participants,
nbgrader's own `db student import` file), for the gradebook's students (names, emails, LMS ids) and to know a
student by any of their ids in submission file names (Canvas names files by its user id).

Column names are matched loosely (case, spaces, underscores, hyphens and dots do not matter), and a bad file is
refused with what is wrong and what to do: nothing is imported from it.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

#: Accepted column names, normalised (see _key), in order of preference.
STUDENT_ID = ("student id", "sis login id", "login id", "username", "user name", "login", "id number",
              "sis user id", "sis id")
LMS_ID = ("lms user id", "canvas user id", "canvas id", "user id")
FIRST = ("first name", "given name", "firstname", "first", "forename")
LAST = ("last name", "surname", "family name", "lastname", "last")
FULL = ("name", "student", "student name", "full name", "sortable name", "display name")
EMAIL = ("email", "email address", "e mail", "e mail address", "mail")
#: Rows of a Canvas gradebook export that are not students.
NOT_STUDENTS = ("points possible", "muted", "read only")
#: A student id becomes a folder name: no path separators, no leading dot.
SAFE_ID = re.compile(r"^[^/\\\s.][^/\\]*$")


class RosterError(ValueError):
    """The roster file cannot be used: the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Person:
    """One student, as nbgrader's gradebook keeps them (Student: id, first_name, last_name, email, lms_user_id)."""
    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""
    sis_user_id: str = ""

    def aliases(self) -> set[str]:
        """Every id a file name may carry for this student (lower case): the student id, LMS and SIS ids, the email
        and its local part, and the name squashed as Canvas writes it in download names ("smithjohn")."""
        names = {self.id, self.lms_user_id, self.sis_user_id, self.email, self.email.partition("@")[0],
                 re.sub(r"[^a-z0-9]", "", f"{self.last_name}{self.first_name}".lower())}
        return {n.lower() for n in names if n}


def _key(column: str) -> str:
    return " ".join(re.sub(r"[_\-.]", " ", column.replace("\ufeff", "")).lower().split())


def _decode(data: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "cp1252"):  # Excel on Windows saves CSV as cp1252
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterError(f"roster {path}: not text in UTF-8 or Windows-1252; save it from the LMS or a spreadsheet as "
                      "CSV (UTF-8)")


def _split_name(full: str) -> tuple[str, str]:
    """(first, last) from "Smith, John" (Canvas' sortable name) or "John Smith"."""
    if "," in full:
        last, _, first = full.partition(",")
        return first.strip(), last.strip()
    parts = full.split()
    return (" ".join(parts[:-1]), parts[-1]) if len(parts) > 1 else ("", full.strip())


@dataclass
class Roster:
    """The students of a class; `student_id(alias)` maps any of a student's ids to the id grading uses."""
    people: list[Person]
    source: str = ""

    def __post_init__(self) -> None:
        seen: dict[str, set[str]] = {}
        for person in self.people:
            for alias in person.aliases():
                seen.setdefault(alias, set()).add(person.id)
        self._by_alias = {alias: next(iter(ids)) for alias, ids in seen.items() if len(ids) == 1}

    def student_id(self, alias: str) -> str | None:
        """The student id of whoever `alias` names (an id, LMS id, email, squashed name), None if nobody or several."""
        return self._by_alias.get(alias.lower())

    def ids(self) -> list[str]:
        return [p.id for p in self.people]

    def import_into(self, gradebook) -> None:
        """Create or update every student in an nbgrader Gradebook."""
        for p in self.people:
            gradebook.update_or_create_student(p.id, first_name=p.first_name or None, last_name=p.last_name or None,
                                               email=p.email or None, lms_user_id=p.lms_user_id or None)


def _column(found: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((found[n] for n in names if n in found), None)


def read(path: Path | str) -> Roster:
    """The roster in a CSV file; raises RosterError naming the problem (and the rows) when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(f"roster {path}: no such file")
    text = _decode(path.read_bytes(), path)
    if not text.strip():
        raise RosterError(f"roster {path}: the file is empty; export the class list from the LMS as CSV")
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    header, body = rows[0], rows[1:]
    found = {_key(c): c for c in header if _key(c)}
    canvas = any(k in found for k in ("sis login id", "sis user id", "student"))
    student_col = _column(found, STUDENT_ID) or (found.get("id") if not canvas else None)
    lms_col = _column(found, LMS_ID) or (found.get("id") if found.get("id") != student_col else None)
    if student_col is None:
        accepted = ", ".join(f"'{n}'" for n in STUDENT_ID)
        raise RosterError(f"roster {path}: no column gives the student id (the id grading and the gradebook use). "
                          f"Columns found: {', '.join(repr(c) for c in header)}. Name one column {accepted} or "
                          "'id' (nbgrader's format); a Canvas gradebook export has 'SIS Login ID'.")
    index = {c: header.index(c) for c in header}

    def value(row: list[str], column: str | None) -> str:
        return row[index[column]].strip() if column is not None and index[column] < len(row) else ""

    first_col, last_col, full_col = _column(found, FIRST), _column(found, LAST), _column(found, FULL)
    email_col, sis_col = _column(found, EMAIL), found.get("sis user id")
    people, problems, rows_of = [], [], {}
    for number, row in enumerate(body, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if value(row, full_col).lower().startswith(NOT_STUDENTS) or value(row, student_col).lower() in NOT_STUDENTS:
            continue
        sid = value(row, student_col)
        if not sid:
            problems.append(f"row {number}: no student id in column {student_col!r}")
            continue
        if not SAFE_ID.match(sid):
            problems.append(f"row {number}: student id {sid!r} cannot name a folder (no '/', '\\', leading dot "
                            "or space)")
            continue
        first, last = value(row, first_col), value(row, last_col)
        if not (first or last) and value(row, full_col):
            first, last = _split_name(value(row, full_col))
        rows_of.setdefault(sid, []).append(number)
        people.append(Person(sid, first, last, value(row, email_col), value(row, lms_col),
                             value(row, sis_col) if sis_col != student_col else ""))
    problems += [f"rows {', '.join(map(str, numbers))}: the same student id {sid!r}"
                 for sid, numbers in rows_of.items() if len(numbers) > 1]
    if problems:
        raise RosterError(f"roster {path}: {len(problems)} problem(s), nothing imported:\n  " + "\n  ".join(problems)
                          + "\nFix these rows (or delete them) and run again.")
    if not people:
        raise RosterError(f"roster {path}: a header ({', '.join(header)}) but no student rows")
    return Roster(people, str(path))
