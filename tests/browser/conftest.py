"""What the browser tests share: the helper modules beside this file, a headless Chromium, named screenshots.

Every test that needs the browser is skipped, with the reason in the summary, where Chromium, chromedriver or
selenium is missing; .ci/run installs them.
"""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "out" / "browser-screenshots"


def _load(name: str):
    """Import a helper module beside this file by path (pytest runs with --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(f"tests_browser_{name}", Path(__file__).with_name(f"{name}.py"))
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lab_helpers = _load("lab")
BROWSER, CHROMEDRIVER = lab_helpers.find_chromium()


def _missing() -> str | None:
    """Why the browser cannot run here, or None."""
    absent = [n for n, p in (("chromium", BROWSER), ("chromedriver", CHROMEDRIVER)) if not p]
    if absent:
        return " and ".join(absent) + " not found on PATH (Debian: apt-get install chromium chromium-driver)"
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed"
    return None


@pytest.fixture(scope="module")
def helpers() -> SimpleNamespace:
    """`lab` (JupyterLab server, Chromium) and `nb` (driving a notebook) helper modules."""
    if why := _missing():
        pytest.skip(f"browser test skipped: {why}")
    return SimpleNamespace(lab=lab_helpers, nb=_load("notebook"))


@pytest.fixture(scope="module")
def driver(helpers, tmp_path_factory):
    """A headless Chromium for the whole module; its teardown checks that no browser process is left."""
    scratch = tmp_path_factory.mktemp("chromium")
    browser = helpers.lab.chromium(BROWSER, CHROMEDRIVER, scratch / "profile", scratch / "chromedriver.log")
    yield browser
    assert helpers.lab.quit_chromium(browser) == [], "Chromium processes outlived the browser session"


@pytest.fixture(scope="module")
def shoot(request):
    """Save a screenshot of an element (or the whole window) as out/browser-screenshots/<module>/<name>.png."""
    folder = SHOTS / request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_browser_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"\nbrowser screenshots: {folder}")

    def save(target, name: str) -> Path:
        path = folder / f"{name}.png"
        (target.save_screenshot if hasattr(target, "save_screenshot") else target.screenshot)(str(path))
        return path

    return save
