"""The graded class in a real (headless) Chromium: a student's feedback page, then the instructor's manual grading
in nbgrader's formgrader (points and a comment for a written answer, saved) and `python -m autograder finalize`,
whose final grades.csv and feedback page carry them. Screenshots land in out/browser-screenshots/instructor/.
"""
from __future__ import annotations

import csv
import html
import json
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("selenium", reason="browser test skipped: selenium is not installed")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from autograder.cli import main  # noqa: E402
from autograder.finalize import MANUAL_DB, prepare_formgrader, read_manual  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "a1_loss_curves"
QUESTION, POINTS, COMMENT = "q1", 1.5, "Right idea; name the curve that turns up first."


def cli(*args: str) -> None:
    """`python -m autograder ...`, in this process."""
    assert main(list(args)) == 0, f"python -m autograder {' '.join(args)} failed"


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def _pick_partial_student() -> tuple[Path, dict]:
    """The sample-class student "partial" (else any with a partial a1 grade): its feedback has passes and failures."""
    folders = sorted((REPO / "autograder" / "sample_class").glob("*/expected.json"),
                     key=lambda p: p.parent.name != "partial")
    for expected in folders:
        e = json.loads(expected.read_text()).get(ASSIGNMENT, {})
        if e.get("status") == "graded" and e.get("score", 0) > 0 and e.get("failing_tests"):
            return expected.parent, e
    pytest.fail("no sample-class student with a partial a1 grade")


@pytest.fixture(scope="module")
def graded(helpers, tmp_path_factory) -> tuple[Path, str, dict]:
    """One partial a1 submission graded by `python -m autograder grade`: (out folder, student, its grades.csv row)."""
    student, expected = _pick_partial_student()
    root = tmp_path_factory.mktemp("graded")
    shutil.copytree(student / ASSIGNMENT, root / "submissions" / student.name / ASSIGNMENT)
    start = time.monotonic()
    cli("grade", str(root / "submissions"), "--out", str(root / "out"), "--workers", "1",
         "--assignments", ASSIGNMENT, "--quiet")
    print(f"graded {student.name}/{ASSIGNMENT} in {time.monotonic() - start:.0f}s")
    [row] = _rows(root / "out" / "grades.csv")
    assert float(row["score"]) == expected["score"], f"{student.name}: {row} but expected {expected}"
    return root / "out", student.name, row


def _hidden_tests() -> tuple[dict[str, list[str]], set[str]]:
    """grade_id -> the code lines of that source cell's hidden-test region; and the lines found only there."""
    hidden, visible = {}, set()
    for cell in nbformat.read(REPO / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4).cells:
        lines, inside = [], False
        for line in map(str.strip, cell.source.splitlines()):
            inside = inside or "BEGIN HIDDEN TESTS" in line
            (lines.append if inside else visible.add)(line)
            inside = inside and "END HIDDEN TESTS" not in line
        if lines:
            hidden[cell.metadata["nbgrader"]["grade_id"]] = [x for x in lines if len(x) > 15 and "HIDDEN" not in x]
    assert hidden, "the a1 source has no hidden tests to look for"
    return hidden, {x for lines in hidden.values() for x in lines} - visible


def _code_lines(text: str) -> set[str]:
    """The lines of shown text as code lines: stripped, and without a traceback's "----> 12" or "     12" margin,
    so that a hidden line counts as shown only as a whole line (a visible import may begin with the same words)."""
    return {re.sub(r"^(?:-*>\s*)?\d+\s", "", line.strip()).strip() for line in text.splitlines()}


def _page_scores(text: str) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in re.findall(r"Score: ([\d.]+) / ([\d.]+)", text)]


def test_feedback_page_hides_hidden_tests_and_shows_scores(graded, driver, shoot):
    """The student's feedback page, opened as a file: scores add up, no hidden test code anywhere."""
    out, student, row = graded
    pages = sorted((out / "feedback" / student / ASSIGNMENT).glob("*.html"))
    assert pages, f"no feedback page for {student}: {row}"
    driver.switch_to.new_window("tab")
    driver.get(pages[0].as_uri())
    text = driver.find_element(By.TAG_NAME, "body").text
    shoot(driver, "feedback-1-top")
    scores = _page_scores(text)
    assert scores, "no score visible on the feedback page"
    assert scores[0] == (float(row["score"]), float(row["max_score"])), f"page total {scores[0]} != graded {row}"
    n = (len(scores) - 1) // 2  # the table of contents lists each graded cell's score, its heading again
    toc, headings = scores[1:n + 1], scores[n + 1:]
    waiting = re.search(r"of which ([\d.]+) points await manual grading", text)  # unmarked answers show no score
    waiting = float(waiting.group(1)) if waiting else 0.0
    assert toc == headings and sum(b for _, b in toc) + waiting == pytest.approx(float(row["max_score"])), scores

    hidden, only_hidden = _hidden_tests()
    for grade_id, lines in hidden.items():
        cell = driver.find_element(By.CSS_SELECTOR, f'[id="cell-id={grade_id}"]')
        assert "Score:" in cell.text, f"hidden test cell {grade_id} shows no score"
        leaked = [line for line in lines if line in _code_lines(cell.text)]
        assert not leaked, f"hidden test code visible in {grade_id}: {leaked[:3]}"
        shoot(cell, f"feedback-2-{grade_id}")
    leaked = [line for line in only_hidden if line in _code_lines(text)]
    assert not leaked, f"hidden test code visible in the feedback page: {leaked[:3]}"
    assert "HIDDEN TESTS" not in html.unescape(driver.page_source), "a hidden-test region is in the page's HTML"
    print(f"{student}: {row['score']}/{row['max_score']} ({row['status']}); feedback {pages[0]}")


def _type(element, text: str) -> None:
    """Replace a box's text as a person does (click, select all, type)."""
    element.click()
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(text)


def test_formgrader_manual_grade_reaches_final_grades_and_feedback(graded, helpers, driver, shoot, tmp_path):
    """formgrader on the graded folder (what `python -m autograder formgrader` serves): open the submission, give
    the written answer q1 points and a comment, save; `python -m autograder finalize` then carries both into
    final/grades.csv, the LMS exports and the student's final feedback page."""
    nb = helpers.nb
    out, student, row = graded
    assert prepare_formgrader(out) == []
    server = helpers.lab.JupyterLab(out, tmp_path / "formgrader-scratch").start()
    try:
        driver.switch_to.new_window("tab")
        server.log_in(driver)
        driver.get(f"{server.url}/formgrader/gradebook/{ASSIGNMENT}/{ASSIGNMENT}")
        link = nb.wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "td a[href*='/formgrader/submissions/']"),
                           120, "formgrader's list of submissions")
        shoot(driver, "formgrader-1-submissions")
        link[0].click()
        score = nb.wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f"input.score#{QUESTION}"), 120,
                            f"the score box of {QUESTION}")[0]
        comment = driver.find_element(By.CSS_SELECTOR, f"textarea#{QUESTION}-comment")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", score)

        def saved():
            manual = read_manual(out / MANUAL_DB)
            key = (student, ASSIGNMENT, ASSIGNMENT, QUESTION)
            return manual.scores.get(key) == POINTS and manual.comments.get(key) == COMMENT

        def grade_and_save():  # typed again only when the gradebook provably does not hold it yet
            _type(comment, COMMENT)  # saved when it loses focus (formgrader's change event) ...
            _type(score, f"{POINTS:g}")  # ... to the score box, saved when Tab leaves it
            score.send_keys(Keys.TAB)
            try:
                return nb.wait_for(saved, 30, "formgrader to save the grade and comment")
            except TimeoutError:
                return False

        nb.wait_for(grade_and_save, 300, f"{QUESTION}'s points and comment in {MANUAL_DB}", poll=1)
        shoot(driver.find_element(By.CSS_SELECTOR, f"#{QUESTION}").find_element(
            By.XPATH, "ancestor::div[contains(@class, 'nbgrader_cell')]"), "formgrader-2-q1-graded")
        shoot(driver, "formgrader-3-submission-saved")
    finally:
        assert server.stop() == [], "processes outlived formgrader's JupyterLab"

    cli("finalize", "--out", str(out))
    [final] = _rows(out / "final" / "grades.csv")
    assert float(final["manual"]) == POINTS
    assert float(final["score"]) == float(row["score"]) + POINTS
    assert final["comments"] == f"{QUESTION}: {COMMENT}"
    [_, canvas] = _rows(out / "final" / "canvas.csv")
    assert float(canvas[ASSIGNMENT]) == float(final["score"])

    page = out / "final" / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
    driver.get(page.as_uri())
    text = driver.find_element(By.TAG_NAME, "body").text
    shoot(driver, "final-feedback-1-top")
    assert _page_scores(text)[0] == (float(final["score"]), float(final["max_score"]))
    cell = driver.find_element(By.XPATH, f"//a[@name='{QUESTION}']/ancestor::div[contains(@class, 'nbgrader_cell')]")
    assert _page_scores(cell.text) == [(POINTS, 2.0)], cell.text[:500]
    assert COMMENT in cell.text, f"the grader's comment is not under {QUESTION} on the final feedback page"
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
    shoot(driver, "final-feedback-2-q1-points-and-comment")
    print(f"{student}: {row['score']} autograded + {POINTS:g} manual = {final['score']}/{final['max_score']}")
