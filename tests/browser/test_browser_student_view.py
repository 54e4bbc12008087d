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
    scratch = tmp_path_factory.mktemp("chromium")
    browser = lab_helpers.chromium(BROWSER, CHROMEDRIVER, scratch / "profile", scratch / "chromedriver.log")
    yield browser
    browser.quit()


def _code_sources(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _index_of(sources: list[str], needle: str) -> int:
    hits = [i for i, s in enumerate(sources) if needle in s]
    assert len(hits) == 1, f"expected one code cell containing {needle!r}, found {len(hits)}"
    return hits[0]


def _open_and_run(lab, driver, shoot, rel: str, timeout: float, **kwargs) -> tuple[list[str], list]:
    assert (lab.root / rel).exists(), f"{rel} is missing from the repository"
    sources = _code_sources(lab.root / rel)
    start = time.monotonic()
    try:
        nb.open_notebook(driver, lab, rel, len(sources))
        cells = nb.run_all(driver, timeout, **kwargs)
    except Exception:
        shoot(driver, f"{Path(rel).stem}-FAILED")
        print("cells when it failed:\n" + _describe(nb.cells(driver)))
        raise
    print(f"{rel}: opened and ran {len(cells)} code cells through the UI in {time.monotonic() - start:.0f}s")
    return sources, cells


def _describe(cells) -> str:
    return "\n".join(f"code cell {c.index} {c.prompt} {c.errors} {''.join(c.stderr)[-1500:]}" for c in cells)


def test_lecture_05_shows_plots_widget_and_live_plot(lab, driver, shoot):
    sources, cells = _open_and_run(lab, driver, shoot, LECTURE, timeout=300)
    shoot(driver, "lecture05-1-top")
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
    assert "learning rate" in slider.text
    assert len(explorer.images) == 1, "the explorer should draw its first figure when shown"
    readout, before = slider.find_element(By.CSS_SELECTOR, ".widget-readout").text, explorer.images[0]["src"]
    shoot(area, "lecture05-4-widget-before")
    handle = slider.find_element(By.CSS_SELECTOR, ".noUi-handle")
    handle.click()
    handle.send_keys(Keys.HOME)  # the slider's lowest learning rate: a visibly slower run
    nb.wait_for(lambda: slider.find_element(By.CSS_SELECTOR, ".widget-readout").text != readout, 10,
                "the learning-rate readout to change")
    after = nb.wait_for(lambda: [img["src"] for img in nb.cells(driver)[explorer.index].images
                                 if img["src"] != before and img["decoded"]], 120, "the explorer to redraw")
    assert len(after) == 1
    shoot(area, "lecture05-5-widget-after")
    print(f"learning rate {readout} -> {slider.find_element(By.CSS_SELECTOR, '.widget-readout').text}: redrawn")


def test_a1_release_shows_only_its_stubs(lab, driver, shoot):
    sources, cells = _open_and_run(lab, driver, shoot, RELEASE, timeout=300, continue_after_errors=True)
    shoot(driver, "a1-release-1-top")
    assert all(c.executed for c in cells)
    names = {name for c in cells for name in c.errors}
    assert "NotImplementedError" in names, "the student version should show its NotImplementedError stubs"
    others = [c for c in cells if set(c.errors) - {"NotImplementedError"}]
    assert not others, "errors other than the stubs' NotImplementedError:\n" + _describe(others)
    stubs = [c for c in cells if c.errors]
    shoot(nb.output_area(driver, stubs[0].index), "a1-release-2-first-stub")
    print(f"{len(stubs)} cells show NotImplementedError: code cells {[c.index for c in stubs]}")


def _pick_partial_student() -> Path:
    """A sample-class student whose expected a1 grade is partial: the feedback has both passes and failures."""
    for expected in sorted((REPO / "autograder" / "sample_class").glob("*/expected.json")):
        e = json.loads(expected.read_text()).get(ASSIGNMENT, {})
        if e.get("status") == "graded" and 0 < e.get("score", 0):
            return expected.parent
    pytest.fail("no sample-class student with a partial a1 grade")


def _hidden_test_lines() -> list[str]:
    """Distinctive code lines inside the source's hidden-test regions."""
    lines, inside = [], False
    for source in _code_sources(REPO / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"):
        for line in source.splitlines():
            inside = inside or "BEGIN HIDDEN TESTS" in line
            if inside and len(line.strip()) > 15 and "HIDDEN TESTS" not in line:
                lines.append(line.strip())
            inside = inside and "END HIDDEN TESTS" not in line
    assert lines, "the a1 source has no hidden tests to look for"
    return lines


def test_feedback_page_hides_hidden_tests_and_shows_scores(driver, shoot, tmp_path):
    from autograder.pipeline import grade

    student = _pick_partial_student()
    submissions = tmp_path / "submissions"
    shutil.copytree(student / ASSIGNMENT, submissions / student.name / ASSIGNMENT)
    [result] = grade(submissions, tmp_path / "out", assignments=[ASSIGNMENT], progress=False)
    pages = sorted((tmp_path / "out" / "feedback" / student.name / ASSIGNMENT).glob("*.html"))
    assert pages, f"no feedback page for {student.name}"

    driver.switch_to.new_window("tab")
    driver.get(pages[0].as_uri())
    text = driver.find_element(By.TAG_NAME, "body").text
    source = html.unescape(driver.page_source)
    shoot(driver, "feedback-1-top")
    assert f"{result.score:g}" in text and f"{result.max_score:g}" in text, f"scores {result} not visible"
    leaked = [line for line in _hidden_test_lines() if line in text]
    assert not leaked, f"hidden test code visible in the feedback page: {leaked[:3]}"
    assert "HIDDEN TESTS" not in source, "a hidden-test region is in the page's HTML"
    print(f"{student.name}: {result.score:g}/{result.max_score:g} ({result.status}); feedback {pages[0]}")


def test_stopping_jupyterlab_leaves_no_process(lab):
    kernels = [p for p in lab.descendants() if "ipykernel" in " ".join(p.cmdline())]
    assert kernels, "expected the notebooks' kernels to be running before the stop"
    assert lab.stop() == [], "processes outlived JupyterLab's stop"
    assert not [p for p in kernels if p.is_running() and p.status() != "zombie"]
