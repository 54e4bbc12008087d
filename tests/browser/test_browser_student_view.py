"""What a student sees, in a real (headless) Chromium: lecture 05 in both frameworks and the a1 (PyTorch) and a3
(TensorFlow) releases run through JupyterLab's UI, and nbgrader's Validate button on a filled-in notebook.
Screenshots land in out/browser-screenshots/student_view/ (each module prints its folder).
"""
from __future__ import annotations

import ast
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("selenium", reason="browser test skipped: selenium is not installed")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LECTURES = {flavor: f"course/{flavor}/05_reading_loss_curves.ipynb" for flavor in ("pytorch", "tensorflow")}
RELEASES = {aid: f"release/{aid}/{aid}.ipynb" for aid in ("a1_loss_curves", "a3_gradients_lr")}
#: A filled-in notebook a student validates: the sample class's reference a2 (PyTorch, quick to run).
FILLED_IN = REPO / "autograder" / "sample_class" / "reference" / "a2_losses_optimizers" / "a2_losses_optimizers.ipynb"
VALIDATE = "filled_in/a2_losses_optimizers.ipynb"


@pytest.fixture(scope="module")
def nb(helpers):
    return helpers.nb


@pytest.fixture(scope="module")
def lab(helpers, tmp_path_factory):
    """JupyterLab serving a scratch copy of the lectures, the releases and a filled-in notebook (the repository is
    never written). nbgrader's Validate reads nbgrader_config.py from the server's folder: there, a cell time limit
    that a loaded CI machine cannot hit (nbgrader's default is 30 s)."""
    root = tmp_path_factory.mktemp("lab-root")
    for rel in (*LECTURES.values(), *RELEASES.values()):
        if (REPO / rel).exists():
            shutil.copytree((REPO / rel).parent, root / Path(rel).parent, dirs_exist_ok=True)
    (root / VALIDATE).parent.mkdir(parents=True)
    shutil.copyfile(FILLED_IN, root / VALIDATE)
    (root / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\nc.Execute.timeout = 600\n")
    server = helpers.lab.JupyterLab(root, tmp_path_factory.mktemp("lab-scratch")).start()
    yield server
    server.stop()


def _code_sources(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _index_of(sources: list[str], needle: str) -> int:
    hits = [i for i, s in enumerate(sources) if needle in s]
    assert len(hits) == 1, f"expected one code cell containing {needle!r}, found {len(hits)}"
    return hits[0]


def _open_and_run(lab, driver, shoot, nb, rel: str, name: str, **kwargs) -> tuple[list[str], list]:
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


@pytest.mark.parametrize("flavor", LECTURES)
def test_lecture_05_shows_plots_widget_and_live_plot(lab, driver, shoot, nb, flavor):
    """Run All: every cell runs, no error output, plots decode, one live figure, the LR explorer redraws."""
    name = f"lecture05-{flavor}"
    sources, cells = _open_and_run(lab, driver, shoot, nb, LECTURES[flavor], name)
    assert all(c.executed for c in cells), "cells that did not run:\n" + _describe(c for c in cells if not c.executed)
    broken = [c for c in cells if c.errors]
    assert not broken, "error outputs:\n" + _describe(broken)
    if warned := [c for c in cells if c.stderr]:
        print("stderr (warnings) a student sees:\n" + _describe(warned))

    images = [img for c in cells for img in c.images]
    assert images, "no plot image rendered anywhere"
    assert all(img["decoded"] for img in images), "an image output did not decode"
    first_plot = next(c for c in cells if c.images)
    shoot(nb.output_area(driver, first_plot.index), f"{name}-2-first-plot")

    live = cells[_index_of(sources, "live_plot=True")]
    assert len(live.images) == 1, f"the live plot should be one figure updated in place, found {len(live.images)}"
    shoot(nb.output_area(driver, live.index), f"{name}-3-live-plot-final")

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
    shoot(area, f"{name}-4-widget-before")
    slider.find_element(By.CSS_SELECTOR, ".noUi-handle").send_keys(Keys.HOME)  # its lowest learning rate

    def redrawn():
        now = state()
        return now if now[0] != before[0] and now[3] == "Train" and now[1] and now[1] != before[1] else None

    after = nb.wait_for(redrawn, 300, "the explorer to retrain and redraw")
    assert len(after[1]) == 1 and after[2] != before[2], "one new figure and a new diagnosis"
    shoot(area, f"{name}-5-widget-after")
    print(f"explorer: learning rate {before[0]} -> {after[0]}, figure and diagnosis redrawn")


def _assigned(source: str) -> set[str]:
    """The names a cell's code binds (assignments, imports, def, class)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (magics): no names known
        return set()
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return names | {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                    if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}


def _stub_fallout(cells, sources: list[str]) -> set[int]:
    """Code cells whose only error is a NameError for names that an earlier failed cell (a stub's
    NotImplementedError, or such a NameError itself) would have bound: what a blank release shows after a stub,
    not a second bug."""
    unbound, fallout = set(), set()
    for c in cells:
        undefined = set(re.findall(r"NameError: name '(\w+)' is not defined", "".join(c.stderr)))
        if c.errors == ["NameError"] and undefined and undefined <= unbound:
            fallout.add(c.index)
        if "NotImplementedError" in c.errors or c.index in fallout:
            unbound |= _assigned(sources[c.index])
    return fallout


@pytest.mark.parametrize("aid", RELEASES)
def test_release_shows_only_its_stubs(lab, driver, shoot, nb, aid):
    """The student version, run cell block by cell block past each failure: only NotImplementedError shows."""
    name = f"{aid.split('_')[0]}-release"
    sources, cells = _open_and_run(lab, driver, shoot, nb, RELEASES[aid], name, continue_after_errors=True)
    assert all(c.executed for c in cells)
    stubs = [c for c in cells if "NotImplementedError" in c.errors]
    assert stubs, "the student version should show its NotImplementedError stubs"
    shoot(nb.code_cell(driver, stubs[0].index), f"{name}-2-first-stub")
    print(f"{len(stubs)} cells show NotImplementedError: code cells {[c.index for c in stubs]}")
    fallout = _stub_fallout(cells, sources)
    if fallout:
        print(f"NameError only for names a stub's cell left undefined: code cells {sorted(fallout)}")
    others = [c for c in cells if set(c.errors) - {"NotImplementedError"} and c.index not in fallout]
    if others:
        shoot(nb.code_cell(driver, others[0].index), f"{name}-FAILED-other-error")
    assert not others, "errors other than the stubs' NotImplementedError:\n" + _describe(others)


def test_validate_button_passes_a_filled_in_notebook(lab, driver, shoot, nb):
    """nbgrader's Validate button (its JupyterLab extension, in the notebook toolbar) on a complete a2: it saves,
    runs every cell on the server and says the notebook passes all the tests."""
    nb.open_notebook(driver, lab, VALIDATE, len(_code_sources(lab.root / VALIDATE)))
    button = nb.wait_for(lambda: [b for b in driver.find_elements(
        By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar jp-button")
        if b.text.strip() == "Validate"], 60, "nbgrader's Validate button in the notebook toolbar")
    shoot(driver, "validate-0-opened")
    start = time.monotonic()
    button[0].click()
    message = nb.wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog #validation-message"), 900,
                          "nbgrader's validation result")[0]
    shoot(driver.find_element(By.CSS_SELECTOR, ".jp-Dialog-content"), "validate-1-result")
    print(f"Validate answered in {time.monotonic() - start:.0f}s: {message.text[:300]!r}")
    assert "validation-success" in message.get_attribute("class"), message.text[:2000]
    assert "passes all the tests" in message.text, message.text[:2000]
    driver.find_element(By.CSS_SELECTOR, ".jp-Dialog .jp-mod-accept").click()


def test_stopping_jupyterlab_leaves_no_process(lab):
    """SIGTERM to the server's process group: the server and every kernel it started are gone."""
    lab.api("kernels", method="POST")  # one more kernel, so there is one to leave behind even when run alone
    kernels = [p for p in lab.descendants() if "ipykernel" in " ".join(p.cmdline())]
    assert len(kernels) == len(lab.api("kernels")), "every running kernel should be a child of the server"
    assert lab.stop() == [], "processes (kernels or the server) outlived JupyterLab's stop"
