"""A real browser and the pages it loads: headless Debian chromium through its chromedriver (Selenium, told to stay
offline: selenium-manager never downloads), a static server on loopback, and an npm folder installed as pinned."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT = "apt-get install -y chromium chromium-driver"


def _missing(what: str) -> None:
    """Skip, except on CI, which must run it."""
    if os.environ.get("CI"):
        pytest.fail(what)
    pytest.skip(what)


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """Headless chromium; skipped without it (failed on CI)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        _missing(f"{', '.join(missing)} missing: {APT}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1280,900", "--disable-dev-shm-usage"):
        options.add_argument(arg)  # --no-sandbox: the tests run as root in containers
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SE_OFFLINE", "true")
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def npm_installed(folder: Path) -> Path:
    """``folder``'s npm packages, as its package-lock.json pins them (``npm ci``, as ``make npm-deps`` runs it),
    installed again only when package.json or the lockfile changed; its ``node_modules``."""
    stamp = folder / "node_modules" / ".package-lock.json"
    inputs = [folder / "package.json", folder / "package-lock.json"]
    if stamp.exists() and all(stamp.stat().st_mtime >= p.stat().st_mtime for p in inputs):
        return stamp.parent
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm missing: apt-get install -y nodejs npm (or make system-deps)")
    subprocess.run([str(npm), "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, check=True, timeout=600)
    return stamp.parent


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No line per request on the test's output."""


@contextmanager
def static_site(folder: Path) -> Iterator[str]:
    """``folder`` served over HTTP on a loopback port; its base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
