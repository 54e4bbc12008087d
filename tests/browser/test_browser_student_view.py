"""What a student sees, in a real (headless) Chromium: lecture 05 and the a1 release run through JupyterLab's UI,
and a feedback page of the sample class. Screenshots land in out/browser-screenshots/ (each test prints it).

Skipped, with the reason in the summary, where Chromium or chromedriver is missing; .ci/run installs both.
"""
from __future__ import annotations

import html
import importlib.util
import json
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "out" / "browser-screenshots"
LECTURE = "course/pytorch/05_reading_loss_curves.ipynb"
RELEASE = "release/a1_loss_curves/a1_loss_curves.ipynb"
ASSIGNMENT = "a1_loss_curves"


def _load(name: str):
    """Import a helper module beside this file by path (pytest runs with --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(f"tests_browser_{name}", Path(__file__).with_name(f"{name}.py"))
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lab_helpers = _load("lab")
BROWSER, CHROMEDRIVER = lab_helpers.find_chromium()
if not (BROWSER and CHROMEDRIVER):
    pytest.skip("browser test skipped: " + " and ".join(
        n for n, p in (("chromium", BROWSER), ("chromedriver", CHROMEDRIVER)) if not p)
        + " not found on PATH (Debian: apt-get install chromium chromium-driver)", allow_module_level=True)
pytest.importorskip("selenium", reason="browser test skipped: selenium is not installed")
nb = _load("notebook")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


@pytest.fixture(scope="module")
def shoot():
    """Save a screenshot of an element (or the whole window) as out/browser-screenshots/<name>.png."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    print(f"\nbrowser screenshots: {SHOTS}")

    def save(target, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        (target.save_screenshot if hasattr(target, "save_screenshot") else target.screenshot)(str(path))
        return path

    return save


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a scratch copy of the lecture and the a1 release (the repository is never written)."""
    root = tmp_path_factory.mktemp("lab-root")
    for rel in (LECTURE, RELEASE):
        if (REPO / rel).exists():
            shutil.copytree((REPO / rel).parent, root / Path(rel).parent, dirs_exist_ok=True)
    server = lab_helpers.JupyterLab(root, tmp_path_factory.mktemp("lab-scratch")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """A headless Chromium for the whole module; its teardown checks that no browser process is left."""
    scratch = tmp_path_factory.mktemp("chromium")
    browser = lab_helpers.chromium(BROWSER, CHROMEDRIVER, scratch / "profile", scratch / "chromedriver.log")
    yield browser
    assert lab_helpers.quit_chromium(browser) == [], "Chromium processes outlived the browser session"


def _code_sources(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _index_of(sources: list[str], needle: str) -> int:
    hits = [i for i, s in enumerate(sources) if needle in s]
    assert len(hits) == 1, f"expected one code cell containing {needle!r}, found {len(hits)}"
    return hits[0]


def _open_and_run(lab, driver, shoot, rel: str, name: str, **kwargs) -> tuple[list[str], list]:
    """Open `rel` in JupyterLab, Run All from the menu, wait; screenshots `name`-0-opened and -1-top-after-run."""
    assert (lab.root / rel).exists(), f"{rel} is missing from the repository"
    sources = _code_sources(lab.root / rel)
    start = time.monotonic()
    try:
        nb.open_notebook(driver, lab, rel, len(sources))
        shoot(driver, f"{name}-0-opened")
        cells = nb.run_all(driver, lab, rel, **kwargs)
    except Exception:
        shoot(driver, f"{name}-FAILED")
        print("cells when it failed:\n" + _describe(nb.cells(driver)) + "\njupyterlab log:\n" + lab.log_tail())
        raise
    print(f"{rel}: opened and ran {len(cells)} code cells through the UI in {time.monotonic() - start:.0f}s")
    nb.scroll_to_top(driver)
    shoot(driver, f"{name}-1-top-after-run")
    return sources, cells


def _describe(cells) -> str:
    return "\n".join(f"code cell {c.index} {c.prompt} {c.errors} {''.join(c.stderr)[-1500:]}" for c in cells)


def test_lecture_05_shows_plots_widget_and_live_plot(lab, driver, shoot):
    """Run All: every cell runs, no error output, plots decode, one live figure, the LR explorer redraws."""
    sources, cells = _open_and_run(lab, driver, shoot, LECTURE, "lecture05")
    assert all(c.executed for c in cells), "cells that did not run:\n" + _describe(c for c in cells if not c.executed)
    broken = [c for c in cells if c.errors]
    assert not broken, "error outputs:\n" + _describe(broken)
    if warned := [c for c in cells if c.stderr]:
        print("stderr (warnings) a student sees:\n" + _describe(warned))

    images = [img for c in cells for img in c.images]
    assert images, "no plot image rendered anywhere"
    assert all(img["decoded"] for img in images), "an image output did not decode"
    first_plot = next(c for c in cells if c.images)
    shoot(nb.output_area(driver, first_plot.index), "lecture05-2-first-plot")

    live = cells[_index_of(sources, "live_plot=True")]
    assert len(live.images) == 1, f"the live plot should be one figure updated in place, found {len(live.images)}"
    shoot(nb.output_area(driver, live.index), "lecture05-3-live-plot-final")

    explorer = cells[_index_of(sources, "lr_explorer(")]
    area = nb.output_area(driver, explorer.index)
    assert not re.search(r"Error displaying widget|Loading widget", area.text), area.text[:500]
    slider = area.find_element(By.CSS_SELECTOR, ".widget-slider:has(.noUi-handle)")
    assert "learning r" in slider.text, slider.text
    assert len(explorer.images) == 1, "the explorer should draw its first figure when shown"

    def state():
        return (slider.find_element(By.CSS_SELECTOR, ".widget-readout").text,
                [img["src"] for img in nb.cells(driver)[explorer.index].images if img["decoded"]],
                area.find_element(By.CSS_SELECTOR, ".widget-html").text,
                area.find_element(By.CSS_SELECTOR, "button").text.strip())

    before = state()
    shoot(area, "lecture05-4-widget-before")
    slider.find_element(By.CSS_SELECTOR, ".noUi-handle").send_keys(Keys.HOME)  # its lowest learning rate

    def redrawn():
        now = state()
        return now if now[0] != before[0] and now[3] == "Train" and now[1] and now[1] != before[1] else None

    after = nb.wait_for(redrawn, 120, "the explorer to retrain and redraw")
    assert len(after[1]) == 1 and after[2] != before[2], "one new figure and a new diagnosis"
    shoot(area, "lecture05-5-widget-after")
    print(f"explorer: learning rate {before[0]} -> {after[0]}, figure and diagnosis redrawn")


def test_a1_release_shows_only_its_stubs(lab, driver, shoot):
    """The student version, run cell block by cell block past each failure: only NotImplementedError shows."""
    _, cells = _open_and_run(lab, driver, shoot, RELEASE, "a1-release", continue_after_errors=True)
    assert all(c.executed for c in cells)
    stubs = [c for c in cells if "NotImplementedError" in c.errors]
    assert stubs, "the student version should show its NotImplementedError stubs"
    shoot(nb.code_cell(driver, stubs[0].index), "a1-release-2-first-stub")
    print(f"{len(stubs)} cells show NotImplementedError: code cells {[c.index for c in stubs]}")
    others = [c for c in cells if set(c.errors) - {"NotImplementedError"}]
    if others:
        shoot(nb.code_cell(driver, others[0].index), "a1-release-FAILED-other-error")
    assert not others, "errors other than the stubs' NotImplementedError:\n" + _describe(others)


def _pick_partial_student() -> tuple[Path, dict]:
    """The sample-class student "partial" (else any with a partial a1 grade): its feedback has passes and failures."""
    folders = sorted((REPO / "autograder" / "sample_class").glob("*/expected.json"),
                     key=lambda p: p.parent.name != "partial")
    for expected in folders:
        e = json.loads(expected.read_text()).get(ASSIGNMENT, {})
        if e.get("status") == "graded" and e.get("score", 0) > 0 and e.get("failing_tests"):
            return expected.parent, e
    pytest.fail("no sample-class student with a partial a1 grade")


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


def test_feedback_page_hides_hidden_tests_and_shows_scores(driver, shoot, tmp_path):
    """Grade one sample submission with the pipeline, open its feedback as a file: scores add up, no hidden code."""
    from autograder.pipeline import grade

    student, expected = _pick_partial_student()
    submissions = tmp_path / "submissions"
    shutil.copytree(student / ASSIGNMENT, submissions / student.name / ASSIGNMENT)
    start = time.monotonic()
    [result] = grade(submissions, tmp_path / "out", assignments=[ASSIGNMENT], progress=False)
    print(f"graded {student.name}/{ASSIGNMENT} in {time.monotonic() - start:.0f}s")
    pages = sorted((tmp_path / "out" / "feedback" / student.name / ASSIGNMENT).glob("*.html"))
    assert pages, f"no feedback page for {student.name}: {result}"
    assert result.score == expected["score"], f"{student.name}: {result} but expected {expected}"

    driver.switch_to.new_window("tab")
    driver.get(pages[0].as_uri())
    text = driver.find_element(By.TAG_NAME, "body").text
    shoot(driver, "feedback-1-top")
    scores = [(float(a), float(b)) for a, b in re.findall(r"Score: ([\d.]+) / ([\d.]+)", text)]
    assert scores, "no score visible on the feedback page"
    assert scores[0] == (result.score, result.max_score), f"page total {scores[0]} != graded {result}"
    n = (len(scores) - 1) // 2  # the table of contents lists each graded cell's score, its heading again
    toc, headings = scores[1:n + 1], scores[n + 1:]
    assert toc == headings and sum(b for _, b in toc) == pytest.approx(result.max_score), scores

    hidden, only_hidden = _hidden_tests()
    for grade_id, lines in hidden.items():
        cell = driver.find_element(By.CSS_SELECTOR, f'[id="cell-id={grade_id}"]')
        assert "Score:" in cell.text, f"hidden test cell {grade_id} shows no score"
        leaked = [line for line in lines if line in cell.text]
        assert not leaked, f"hidden test code visible in {grade_id}: {leaked[:3]}"
        shoot(cell, f"feedback-2-{grade_id}")
    leaked = [line for line in only_hidden if line in text]
    assert not leaked, f"hidden test code visible in the feedback page: {leaked[:3]}"
    assert "HIDDEN TESTS" not in html.unescape(driver.page_source), "a hidden-test region is in the page's HTML"
    print(f"{student.name}: {result.score:g}/{result.max_score:g} ({result.status}); feedback {pages[0]}")


def test_stopping_jupyterlab_leaves_no_process(lab):
    """SIGTERM to the server's process group: the server and every kernel it started are gone."""
    lab.api("kernels", method="POST")  # one more kernel, so there is one to leave behind even when run alone
    kernels = [p for p in lab.descendants() if "ipykernel" in " ".join(p.cmdline())]
    assert len(kernels) == len(lab.api("kernels")), "every running kernel should be a child of the server"
    assert lab.stop() == [], "processes (kernels or the server) outlived JupyterLab's stop"
