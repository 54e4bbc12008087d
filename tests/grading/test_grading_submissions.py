"""Finding submissions in folders and zips (no grading: fast)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

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


CANVAS_ROSTER = ("Student,ID,SIS User ID,SIS Login ID,Section,a1_loss_curves (1234)\n"
                 "    Points Possible,,,,,23\n"
                 '"Smith, John",1201,S-001,jsmith,Lab 1,\n'
                 '"Doe, Jane",1202,S-002,jdoe,Lab 1,\n'
                 '"Roe, Rick",1203,S-003,rroe,Lab 2,\n')


def _roster(tmp_path: Path, text: str, name: str = "roster.csv", encoding: str = "utf-8"):
    from autograder.roster import read

    (tmp_path / name).write_bytes(text.encode(encoding))
    return read(tmp_path / name)


def test_a_canvas_gradebook_export_is_a_roster(tmp_path):
    roster = _roster(tmp_path, CANVAS_ROSTER)
    assert [(p.id, p.first_name, p.last_name, p.lms_user_id, p.sis_user_id) for p in roster.people] == [
        ("jsmith", "John", "Smith", "1201", "S-001"), ("jdoe", "Jane", "Doe", "1202", "S-002"),
        ("rroe", "Rick", "Roe", "1203", "S-003")]  # the "Points Possible" row is not a student
    assert roster.student_id("1202") == "jdoe" and roster.student_id("smithjohn") == "jsmith"
    assert roster.student_id("S-003") == "rroe" and roster.student_id("nobody") is None


def test_column_name_variants_delimiters_and_encodings(tmp_path):
    semicolons = _roster(tmp_path, "\ufeffUsername;First_Name;Last-Name;E-Mail;Canvas User ID\n"
                         "zoe;Zoë;Ångström;zoe@uni.example;77\n", encoding="utf-8")
    assert semicolons.people[0] == type(semicolons.people[0])("zoe", "Zoë", "Ångström", "zoe@uni.example", "77")
    excel = _roster(tmp_path, "id\tname\tEmail Address\nbob\tBob Builder\tbob@x.example\n", "excel.csv", "cp1252")
    assert (excel.people[0].first_name, excel.people[0].last_name, excel.people[0].email) == (
        "Bob", "Builder", "bob@x.example")  # nbgrader's own format: id is the student id
    assert excel.student_id("bob@x.example") == "bob" and excel.student_id("BOB") == "bob"


@pytest.mark.parametrize("text, says", [
    ("", "the file is empty"),
    ("name,email\nAda,ada@x\n", "no column gives the student id"),
    ("Student,SIS Login ID\nAda,ada\nBea,ada\n", "rows 2, 3: the same student id 'ada'"),
    ("Student,SIS Login ID\nAda,\nBea,../bea\n", "row 2: no student id"),
    ("Student,SIS Login ID\nAda,\nBea,../bea\n", "row 3: student id '../bea' cannot name a folder"),
    ("Student,SIS Login ID\n", "no student rows"),
])
def test_a_bad_roster_says_what_is_wrong(tmp_path, text, says):
    from autograder.roster import RosterError

    with pytest.raises(RosterError) as caught:
        _roster(tmp_path, text)
    assert says in str(caught.value) and "roster.csv" in str(caught.value)


def test_a_canvas_download_is_laid_out_by_the_roster_with_every_student(tmp_path):
    """Canvas names files <sortable name>_[LATE_]<user id>_<submission id>_<file>: the user id is the roster's
    LMS id; a roster student who handed in nothing still gets a row."""
    roster = _roster(tmp_path, CANVAS_ROSTER)
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("smithjohn_1201_9001_a1_loss_curves.ipynb", (2026, 11, 30, 9, 0, 0)), "{}")
        zf.writestr(zipfile.ZipInfo("doejane_LATE_1202_9002_a1_loss_curves-1.ipynb", (2026, 12, 1, 9, 30, 0)), "{}")
    subs = collect(archive, AIDS[:1], "canvas", roster=roster)
    assert _pairs(subs) == {("jsmith", "a1_loss_curves"): ["a1_loss_curves.ipynb"],
                            ("jdoe", "a1_loss_curves"): ["a1_loss_curves-1.ipynb"],
                            ("rroe", "a1_loss_curves"): []}
    late = {s.student: (s.late, s.submitted_at) for s in subs}
    assert late == {"jsmith": ("", ""), "jdoe": ("the LMS marked the file LATE", ""), "rroe": ("", "")}


def test_the_due_date_dates_each_submission_as_nbgrader_records_it(tmp_path):
    """With a due date, the file's time becomes nbgrader's timestamp.txt (autograde reads it into the gradebook);
    an nbgrader exchange's own timestamp.txt is kept."""
    import datetime as dt

    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("ann_a1_loss_curves.ipynb", (2026, 11, 30, 9, 0, 0)), "{}")
        zf.writestr(zipfile.ZipInfo("ben/a1_loss_curves/a1_loss_curves.ipynb", (2026, 11, 30, 9, 0, 0)), "{}")
        zf.writestr("ben/a1_loss_curves/timestamp.txt", "2026-12-02 08:00:00.000000 UTC")
        zf.writestr("cal/a1_loss_curves/a1_loss_curves.ipynb", "{}")
        zf.writestr("cal/a1_loss_curves/timestamp.txt", "the day after")  # nbgrader would fail the whole autograde
    due = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    subs = {s.student: s for s in collect(archive, AIDS[:1], due=due)}
    # a zip holds wall-clock times without a zone: read on the due date's clock, 09:00 at +01:00 is 08:00 UTC
    assert subs["ann"].files["timestamp.txt"] == b"2026-11-30 08:00:00.000000 UTC"
    assert (subs["ann"].submitted_at, subs["ann"].late) == ("2026-11-30T08:00:00Z", "")
    assert subs["ben"].late == "1 d 23 h 0 min after the due date 2026-11-30 09:00 UTC"
    assert subs["ben"].files["timestamp.txt"] == b"2026-12-02 08:00:00.000000 UTC"
    assert sorted(subs["cal"].files) == ["a1_loss_curves.ipynb"]
    assert "timestamp.txt" not in collect(archive, AIDS[:1])[0].files  # no due date: file times are not evidence


def test_lateness_reads_for_a_person():
    import datetime as dt

    from autograder.lateness import Lateness

    due = dt.datetime(2026, 11, 30, 23, 59)
    assert Lateness(dt.datetime(2026, 11, 30, 23, 0), due).describe() == ""
    late = Lateness(dt.datetime(2026, 12, 2, 1, 4), due, lms_marked_late=True)
    assert late.describe() == "1 d 1 h 5 min after the due date 2026-11-30 23:59 UTC; the LMS marked the file LATE"
    assert (late.iso(), late.timestamp()) == ("2026-12-02T01:04:00Z", "2026-12-02 01:04:00.000000 UTC")
    assert Lateness(None, None, lms_marked_late=True).describe() == "the LMS marked the file LATE"
    assert Lateness(dt.datetime(2026, 12, 1), None).describe() == ""  # no due date, no marker: not known late


@pytest.mark.parametrize("option, value, says", [
    ("--roster", "name,email\nAda,ada@x\n", "no column gives the student id"),
    ("--due", "next friday", "is not an ISO 8601 date and time"),
])
def test_grade_refuses_a_bad_roster_or_due_date_before_grading(tmp_path, capsys, option, value, says):
    from autograder.cli import main

    if option == "--roster":
        (tmp_path / "roster.csv").write_text(value)
        value = str(tmp_path / "roster.csv")
    assert main(["grade", str(_folder(tmp_path / "class")), "--out", str(tmp_path / "out"), option, value]) == 2
    assert says in capsys.readouterr().err and not (tmp_path / "out").exists()
