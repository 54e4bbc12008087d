"""A throwaway JupyterLab server and a headless Chromium, both stopped by the process ids they started."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check", "--window-size=1400,1000",
)


def find_chromium() -> tuple[str | None, str | None]:
    """Paths of a Chromium binary and its chromedriver (None where missing)."""
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    return browser, shutil.which("chromedriver")


def chromium(browser: str, driver: str, profile: Path, log: Path):
    """A headless Chromium driven by Selenium through the given chromedriver (no Selenium Manager, no network)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS + (f"--user-data-dir={profile}",):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver, log_output=str(log)), options=options)


def quit_chromium(driver) -> list[str]:
    """End the browser session; return what outlived it of chromedriver and the browser it started (then killed)."""
    try:
        root = psutil.Process(driver.service.process.pid)
        started = [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        started = []
    driver.quit()
    return _outlived(started)


def _outlived(processes: list[psutil.Process], timeout: float = 10) -> list[str]:
    """Wait for `processes` to end; kill and describe those still running (zombies count as ended)."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    left = []
    for p in alive:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{p.pid} {' '.join(p.cmdline()[:4])}")
                p.kill()
        except psutil.NoSuchProcess:
            pass
    return left


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """`jupyter lab` on 127.0.0.1 serving `root`, with scratch config/runtime/data folders under `scratch`.

    The venv's share/jupyter (lab extensions such as ipywidgets', kernel specs) stays on the data path.
    MPLBACKEND is dropped from the server's environment so kernels get the inline backend, as a student does.
    """

    def __init__(self, root: Path, scratch: Path):
        self.root, self.scratch = Path(root), Path(scratch)
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.scratch / "jupyterlab.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page(self, notebook: str, workspace: str) -> str:
        """URL that opens `notebook` (relative to root) in a fresh lab `workspace`, authenticated by the token."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
        for name in ("config", "runtime", "data"):
            (self.scratch / name).mkdir(parents=True, exist_ok=True)
            env[f"JUPYTER_{name.upper()}_DIR"] = str(self.scratch / name)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        # No news or update checks (they reach the network, and the news toast covers the notebook).
        (self.scratch / "config" / "jupyter_server_config.json").write_text(json.dumps(
            {"LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}}))
        (self.scratch / "config" / "labconfig").mkdir(exist_ok=True)
        (self.scratch / "config" / "labconfig" / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
        return env

    def start(self, timeout: float = 120) -> "JupyterLab":
        """Start the server in its own process group and wait until its REST API answers."""
        cmd = [sys.executable, "-m", "jupyterlab", "--allow-root", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", "--ServerApp.open_browser=False",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}"]
        env = self._env()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=5) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"jupyter lab did not answer in {timeout}s:\n{self.log_tail()}")

    def log_in(self, driver, timeout: float = 60) -> None:
        """Log `driver` in through the server's login page, so pages whose own requests carry no token
        (formgrader's) are authenticated by the cookie."""
        from selenium.webdriver.common.by import By

        driver.get(f"{self.url}/login")
        driver.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys(self.token)
        driver.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
        deadline = time.monotonic() + timeout
        while not any(c["name"].startswith("username-") for c in driver.get_cookies()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no login cookie from {self.url}/login after {timeout}s")
            time.sleep(0.5)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log."""
        return self.log.read_text(errors="replace")[-chars:]

    def api(self, path: str, method: str = "GET"):
        """Call a REST endpoint of the server (POST with an empty JSON body); the answer decoded from JSON."""
        request = urllib.request.Request(f"{self.url}/api/{path}?token={self.token}", method=method,
                                         data=b"{}" if method == "POST" else None,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.load(r)

    def descendants(self) -> list[psutil.Process]:
        """Every live process below the server (kernels run in their own sessions, but are its children)."""
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except (psutil.NoSuchProcess, AttributeError):
            return []

    def stop(self, timeout: float = 30) -> list[str]:
        """SIGTERM the server's process group and wait for it; the server shuts its kernels down itself.

        Returns a description of every process it started that outlived the stop (those are then killed by pid),
        so a caller can assert that the list is empty.
        """
        if self.proc is None or self.proc.poll() is not None:
            return []
        children, leftovers = self.descendants(), []
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            leftovers.append(f"{self.proc.pid} jupyter lab (still running {timeout}s after SIGTERM)")
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        return leftovers + _outlived(children)
