"""The class report and a feedback page in a real (headless) Chromium, for a small class graded the way an
instructor grades a Canvas download: a roster, a due date, one file marked LATE, one student who handed in
nothing, one test edited by the instructor after the release. Screenshots land in out/browser-screenshots/report/.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import zipfile
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("selenium", reason="browser test skipped: selenium is not installed")
from selenium.webdriver.common.by import By  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "grading_report_course", Path(__file__).resolve().parents[1] / "grading" / "test_grading_report.py")
course = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(course)  # the report test's small assignment: two parts, a hidden test, a written answer

ROSTER = ("Student,ID,SIS User ID,SIS Login ID,Section\n"
          "    Points Possible,,,,\n"
          '"Lovelace, Ada",1201,S-1,ada,Lab 1\n'
          '"Babbage, Charles",1202,S-2,charles,Lab 1\n'
          '"Somerville, Mary",1203,S-3,mary,Lab 2\n')
DUE = dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def graded(helpers, tmp_path_factory) -> Path:
    """The class graded once (one worker): the output folder."""
    from autograder.pipeline import grade
    from autograder.release import generate
    from autograder.roster import read

    root = tmp_path_factory.mktemp("report-class")
    source = course._source(root)
    generate(root / "release", [course.AID], source)
    release_nb = root / "release" / course.AID / f"{course.AID}.ipynb"
    course._submit(release_nb, root / "work", "ada", "def cube(x):\n    return x ** 3")
    course._submit(release_nb, root / "work", "charles", "def cube(x):\n    return x * x")
    nb = nbformat.read(source / course.AID / f"{course.AID}.ipynb", 4)  # the instructor reworded a test later
    cell = next(c for c in nb.cells if c.get("id") == "test_value")
    cell.source = cell.source.replace("which is compared", "compared")
    nbformat.write(nb, source / course.AID / f"{course.AID}.ipynb")
    generate(root / "release", [course.AID], source)
    archive = root / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for student, name, when in (("ada", "lovelaceada_1201_9001_rep.ipynb", (2026, 11, 30, 20, 15, 0)),
                                    ("charles", "babbagecharles_LATE_1202_9002_rep.ipynb", (2026, 12, 2, 9, 40, 0))):
            zf.writestr(zipfile.ZipInfo(name, when), (root / "work" / student / course.AID / "rep.ipynb").read_bytes())
    (root / "roster.csv").write_text(ROSTER)
    out = root / "out"
    grade(archive, out, workers=1, source=source, named_regexp="canvas", roster=read(root / "roster.csv"), due=DUE,
          progress=False)
    return out


class FullPage:
    """The whole page in one screenshot (Chromium's DevTools capture beyond the window), for `shoot`."""

    def __init__(self, driver):
        self.driver = driver

    def save_screenshot(self, path: str) -> None:
        import base64

        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        Path(path).write_bytes(base64.b64decode(shot["data"]))


def test_the_report_reads_well(graded, driver, shoot):
    driver.switch_to.new_window("tab")
    driver.get((graded / "report.html").as_uri())
    shoot(FullPage(driver), "report-1-page")
    text = driver.find_element(By.TAG_NAME, "body").text
    table = driver.find_element(By.XPATH, "//h3[text()='Students x tests']/following-sibling::table[1]")
    shoot(table, "report-2-students-x-tests")
    rows = {r.find_element(By.TAG_NAME, "td").text: r.text for r in table.find_elements(By.TAG_NAME, "tr")[2:-1]}
    assert set(rows) == {"ada Ada Lovelace", "charles Charles Babbage late", "mary Mary Somerville"}, rows
    assert "no submission" in rows["mary Mary Somerville"] and "tampered" not in text
    assert "1 late: charles." in text and "Part 1: Cubes" in text and "awaits / 2" in text
    assert "handed in from release v1" in text  # in the table of all submissions: the reason
    assert "2026-12-02 09:40 UTC" in text and "1 d 9 h 41 min after the due date" in text


def test_a_feedback_page_reads_well(graded, driver, shoot):
    driver.switch_to.new_window("tab")
    driver.get((graded / "report.html").as_uri())
    driver.find_element(By.XPATH, "//td[starts-with(., 'charles')]/following-sibling::td/a").click()
    shoot(driver, "feedback-1-top")
    text = driver.find_element(By.TAG_NAME, "body").text
    assert "Student: Charles Babbage, id charles" in text
    assert "Handed in 2026-12-02 09:40 UTC; due 2026-11-30 23:59 UTC" in text
    assert "Late: 1 d 9 h 41 min after the due date" in text and "the LMS marked the file LATE" in text
    assert "In [" not in text  # prompts count in two kernels, out of order: hidden
    shoot(FullPage(driver), "feedback-2-page")
