"""Drive a notebook through JupyterLab's UI as a student does: open it, Run All from the menu, read what shows."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

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


def menu(driver, top: str, command: str, timeout: float = 30) -> bool:
    """Open a top-level menu (e.g. "Run") and click its entry for `command` (e.g. "runmenu:run-all").

    Returns False, with the menu closed again, when the entry stays disabled (JupyterLab greys out commands
    that do not apply to the active cell, and a click on a greyed entry does nothing)."""
    bar = wait_for(lambda: [m for m in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item") if m.text == top],
                   timeout, f"the {top} menu")
    selector = f'.lm-Menu li[data-command="{command}"]'
    if not driver.find_elements(By.CSS_SELECTOR, selector):  # a click on the bar would close an open menu
        bar[0].click()
    item = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, selector), timeout, f"menu entry {command}")
    try:
        wait_for(lambda: "lm-mod-disabled" not in (item[0].get_attribute("class") or ""), 5, f"{command} enabled")
    except TimeoutError:
        item[0].send_keys(Keys.ESCAPE)
        wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, selector), timeout, "the menu to close")
        return False
    item[0].click()
    return True


def kernel_idle(driver) -> bool:
    return bool(driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator[data-status='idle']"))


def kernel_state(lab, path: str) -> str | None:
    """The server's word on the kernel of `path`'s session ("idle", "busy", "starting", ...), None without one."""
    states = [s["kernel"]["execution_state"] for s in lab.api("sessions") if s["path"].endswith(path)]
    return states[0] if states else None


def open_notebook(driver, lab, path: str, n_code_cells: int, timeout: float = 120):
    """Open `path` in a new browser tab with a fresh workspace; wait for its cells and an idle kernel."""
    driver.switch_to.new_window("tab")
    driver.get(lab.page(path, workspace=re.sub(r"\W", "-", path)))
    wait_for(lambda: len(cells(driver)) == n_code_cells, timeout, f"{path}'s {n_code_cells} code cells")
    wait_for(lambda: kernel_state(lab, path) == "idle", timeout, f"{path}'s kernel to start")
    wait_for(lambda: kernel_idle(driver), timeout, "the kernel indicator to show idle")
    for tab in driver.find_elements(By.CSS_SELECTOR, ".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current"):
        tab.click()  # fold the file browser away: more room for the notebook in screenshots


def _prompts(driver) -> list[str]:
    return [c.prompt.strip() for c in cells(driver)]


def wait_until_done(driver, lab, path: str, stall: float) -> list[Cell]:
    """Wait until no cell is queued or running and the kernel is idle, for the UI and for the server, twice in a
    row a second apart. Fails only when nothing changed (no prompt moved) for `stall` seconds: a slow machine
    makes a run slow, not failed."""
    def settled():
        now = cells(driver)
        return now if (any(c.executed for c in now) and not any(c.running for c in now)
                       and kernel_idle(driver) and kernel_state(lab, path) == "idle") else None

    last, changed = None, time.monotonic()
    while True:
        if (first := settled()) is not None:
            time.sleep(1)
            if (second := settled()) and [c.prompt for c in second] == [c.prompt for c in first]:
                return second
        if (now := _prompts(driver)) != last:
            last, changed = now, time.monotonic()
        if time.monotonic() - changed > stall:
            raise TimeoutError(f"no cell started or finished for {stall:.0f}s (kernel: {kernel_state(lab, path)})")
        time.sleep(0.5)


def active_code_cell(driver) -> int | None:
    """Index (among code cells) of the visible notebook's active cell; None when it is a markdown cell."""
    return driver.execute_script("const panel = " + _PANEL_JS + """;
const code = [...panel.querySelectorAll('.jp-Notebook .jp-Cell.jp-CodeCell')];
const i = code.findIndex(c => c.classList.contains('jp-mod-active'));
return i < 0 ? null : i;""")


def select_code_cell(driver, index: int, timeout: float = 60) -> bool:
    """Click the prompt of code cell `index` until JupyterLab marks it active.

    A click can land elsewhere while the notebook is still scrolling or laying out cells that just came into view
    (windowing), and then the active cell stays where the last run left it."""
    def selected():
        if active_code_cell(driver) == index:
            return True
        prompt = code_cell(driver, index).find_element(By.CSS_SELECTOR, ".jp-InputArea-prompt")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", prompt)
        time.sleep(0.3)  # let the scroll and the layout of newly visible cells settle before clicking
        try:
            prompt.click()
        except WebDriverException as exc:  # covered or moved under the pointer: try again
            print(f"click on code cell {index}'s prompt failed: {type(exc).__name__}")
        if (active := active_code_cell(driver)) != index:
            print(f"click on code cell {index}'s prompt did not select it (active code cell: {active}); retrying")
        return active == index

    return wait_for(selected, timeout, f"code cell {index} to be selected", poll=1)


def _until_started(driver, lab, path: str, action, index: int, what: str, attempts: int = 5, grace: float = 15):
    """Do `action` (a UI gesture that should start code cell `index`) until the cell provably started.

    A gesture is retried only when it provably did not take: `grace` seconds later the cell still shows "[ ]:",
    no cell is queued or running, and the kernel is idle for both the UI and the server."""
    def started():
        now = cells(driver)
        return now[index].executed or now[index].running or any(c.running for c in now)

    for attempt in range(attempts):
        if action():
            try:
                wait_for(started, grace, f"{what} to start code cell {index}")
                return
            except TimeoutError:
                if kernel_state(lab, path) != "idle" or not kernel_idle(driver):
                    # busy: the request is on its way; wait for it rather than sending a second one
                    wait_for(lambda: kernel_state(lab, path) == "idle" and kernel_idle(driver), 600, "the kernel")
                    if cells(driver)[index].executed:
                        return
        print(f"{what}: attempt {attempt + 1} did not start code cell {index} "
              f"(active code cell: {active_code_cell(driver)}); retrying")
    raise TimeoutError(f"{what} did not start code cell {index} in {attempts} attempts")


def run_all(driver, lab, path: str, stall: float = 300, continue_after_errors: bool = False) -> list[Cell]:
    """Run > Run All Cells; wait until done. With `continue_after_errors`, after a cell raises (which stops
    Run All), select the next cell that did not run and Run > Run Selected Cell and All Below, until every code
    cell has run: what a student does to see every exercise of a fresh assignment.

    The gestures are checked against their effect: Run All leaves the last cell active, where "Run Selected Cell
    and All Below" is disabled, so a click on a prompt that did not select its cell (the notebook still scrolling
    or laying out cells) would otherwise make the next menu click do nothing, and the run wait forever."""
    _until_started(driver, lab, path, lambda: menu(driver, "Run", "runmenu:run-all"), 0, "Run All")
    done = wait_until_done(driver, lab, path, stall)
    while continue_after_errors and (pending := [c for c in done if not c.executed]):
        index = pending[0].index
        # "Run Selected Cell and All Below" is disabled on the last cell.
        command = "notebook:run-all-below" if index < len(done) - 1 else "notebook:run-cell"
        _until_started(driver, lab, path, lambda: select_code_cell(driver, index) and menu(driver, "Run", command),
                       index, f"Run from code cell {index}")
        done = wait_until_done(driver, lab, path, stall)
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
