"""Drive a notebook through JupyterLab's UI as a student does: open it, Run All from the menu, read what shows."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from selenium.webdriver.common.by import By

# The notebook panel on show (other tabs' panels stay in the DOM, hidden).
_PANEL_JS = "[...document.querySelectorAll('.jp-NotebookPanel')].find(p => !p.classList.contains('lm-mod-hidden'))"
# One entry per code cell of the visible notebook, in order: prompt, outputs as the student sees them.
_CELLS_JS = "const panel = " + _PANEL_JS + """;
if (!panel) return null;
return [...panel.querySelectorAll('.jp-Notebook .jp-Cell.jp-CodeCell')].map(c => ({
  prompt: (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
  stderr: [...c.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
            .map(e => e.textContent),
  images: [...c.querySelectorAll('.jp-OutputArea-output img')]
            .map(i => ({src: i.src, decoded: i.complete && i.naturalWidth > 0})),
  widgets: c.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
}));
"""
_TRACEBACK = re.compile(r"^(\S+)\s+Traceback \(most recent call last\)", re.M)
_LAST_LINE_ERROR = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit))\b")


@dataclass
class Cell:
    """A code cell as rendered: its prompt ("[3]:", "[*]:", "[ ]:") and what its outputs show."""

    index: int
    prompt: str
    stderr: list[str]
    images: list[dict]
    widgets: int
    errors: list[str] = field(default_factory=list)

    @property
    def executed(self) -> bool:
        return re.fullmatch(r"\[\d+\]:", self.prompt.strip()) is not None

    @property
    def running(self) -> bool:
        return self.prompt.strip() == "[*]:"


def error_name(text: str) -> str | None:
    """The exception name of a rendered traceback, or None for plain stderr (warnings, logging)."""
    if m := _TRACEBACK.search(text):
        return m.group(1)
    lines = text.strip().splitlines()
    m = _LAST_LINE_ERROR.match(lines[-1]) if lines else None
    return m.group(1) if m else None


def cells(driver) -> list[Cell]:
    """The code cells of the visible notebook as the student sees them now."""
    out = []
    for i, c in enumerate(driver.execute_script(_CELLS_JS) or []):
        cell = Cell(index=i, **c)
        cell.errors = [name for name in map(error_name, cell.stderr) if name]
        out.append(cell)
    return out


def wait_for(predicate, timeout: float, what: str, poll: float = 0.5):
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def menu(driver, top: str, command: str):
    """Click a top-level menu (e.g. "Run") and then its entry for `command` (e.g. "runmenu:run-all")."""
    bar = wait_for(lambda: [m for m in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item") if m.text == top],
                   30, f"the {top} menu")
    bar[0].click()
    item = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f'.lm-Menu li[data-command="{command}"]'),
                    10, f"menu entry {command}")
    item[0].click()


def kernel_idle(driver) -> bool:
    return bool(driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator[data-status='idle']"))


def open_notebook(driver, lab, path: str, n_code_cells: int, timeout: float = 120):
    """Open `path` in a new browser tab with a fresh workspace; wait for its cells and an idle kernel."""
    driver.switch_to.new_window("tab")
    driver.get(lab.page(path, workspace=re.sub(r"\W", "-", path)))
    wait_for(lambda: len(cells(driver)) == n_code_cells, timeout, f"{path}'s {n_code_cells} code cells")
    wait_for(lambda: any(s["path"].endswith(path) and s["kernel"]["execution_state"] == "idle"
                         for s in lab.api("sessions")), timeout, f"{path}'s kernel to start")
    wait_for(lambda: kernel_idle(driver), timeout, "the kernel indicator to show idle")
    for tab in driver.find_elements(By.CSS_SELECTOR, ".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current"):
        tab.click()  # fold the file browser away: more room for the notebook in screenshots


def wait_until_done(driver, timeout: float) -> list[Cell]:
    """Wait until no cell is queued or running and the kernel is idle (twice in a row, a second apart)."""
    def settled():
        now = cells(driver)
        return now if (any(c.executed for c in now) and not any(c.running for c in now)
                       and kernel_idle(driver)) else None

    deadline = time.monotonic() + timeout
    while True:
        first = wait_for(settled, deadline - time.monotonic(), "all cells to finish")
        time.sleep(1)
        if (second := settled()) and [c.prompt for c in second] == [c.prompt for c in first]:
            return second


def run_all(driver, timeout: float, continue_after_errors: bool = False) -> list[Cell]:
    """Run > Run All Cells; wait until done. With `continue_after_errors`, after a cell raises (which stops
    Run All), select the next cell that did not run and Run > Run Selected Cell and All Below, until every
    code cell has run: what a student does to see every exercise of a fresh assignment."""
    deadline = time.monotonic() + timeout
    menu(driver, "Run", "runmenu:run-all")
    done = wait_until_done(driver, deadline - time.monotonic())
    while continue_after_errors and (pending := [c for c in done if not c.executed]):
        prompts = driver.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) "
                                                        ".jp-CodeCell .jp-InputArea-prompt")
        before = sum(c.executed for c in done)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", prompts[pending[0].index])
        prompts[pending[0].index].click()
        # "Run Selected Cell and All Below" is disabled on the last cell.
        menu(driver, "Run", "notebook:run-all-below" if len(pending) > 1 else "notebook:run-cell")
        wait_for(lambda: sum(c.executed for c in cells(driver)) > before, deadline - time.monotonic(),
                 f"cell {pending[0].index} to run")
        done = wait_until_done(driver, deadline - time.monotonic())
    return done


def code_cell(driver, index: int):
    """The DOM element of the visible notebook's code cell number `index` (0-based among code cells)."""
    return driver.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")[index]


def output_area(driver, index: int):
    """The output area of the visible notebook's code cell number `index`."""
    return code_cell(driver, index).find_element(By.CSS_SELECTOR, ".jp-Cell-outputArea")


def scroll_to_top(driver):
    """Scroll the visible notebook back to its first cell (Run All leaves it at the end)."""
    driver.execute_script(f"{_PANEL_JS}.querySelector('.jp-WindowedPanel-outer').scrollTop = 0;")
