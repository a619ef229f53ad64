"""`make dev` as a user runs it: the banner, the demo cities, a change seen after a tick, a
tombstone, Ctrl-C leaving nothing behind; and hot reload of a function and of the shared package."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.cluster.buildpack import sources
from tests.support.process import ROOT, eventually, free_port, processes

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _in_session(sid: int) -> list[int]:
    """Processes of session `sid` (make, `python -m scripts.dev` and what they started without a session of its own)."""
    return [proc.pid for proc in processes() if proc.session == sid]


def _processes_mentioning(*needles: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(n in text for n in needles) and "pytest" not in text:
            found.append(f"{cmdline.parent.name}: {text}")
    return found


SERVED = {"search": "SEARCH_PORT", "full_load": "FULL_LOAD_PORT", "delta_load": "DELTA_LOAD_PORT"}


def _servers(ports: dict[str, int]) -> list[str]:
    """What identifies this stack's function servers (each runs in a session of its own)."""
    return [f"scripts.function_server {name} {ports[port]}" for name, port in SERVED.items()]


@pytest.fixture
def dev_stack(es_url: str, alias: str) -> Iterator[dict[str, Any]]:
    ports = {
        "SEARCH_PORT": free_port(),
        "FULL_LOAD_PORT": free_port(),
        "DELTA_LOAD_PORT": free_port(),
        "DEV_SOURCE_PORT": free_port(),
    }
    env = {**os.environ, "ES_URL": es_url, "ES_INDEX": alias, "DEV_PING_EVERY": "1s", "DEV_DEMO_CITIES": "500"}
    argv = ["make", "--no-print-directory", "dev", *(f"{k}={v}" for k, v in ports.items())]
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True
    )
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:  # drained all along: a full pipe would block the stack's writers
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if not line.strip() and any("=== Hermes is running" in s for s in output):
                ready.set()  # the banner ends with an empty line

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not ready.wait(300):
            pytest.fail("make dev printed no banner:\n" + "".join(output[-60:]))
        yield {**ports, "proc": proc, "output": output, "reader": reader}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for line in _processes_mentioning(*_servers(ports)):  # what a failed test would leave
            with suppress(ProcessLookupError):
                os.killpg(int(line.split(":", 1)[0]), signal.SIGKILL)
        proc.wait(timeout=30)
        reader.join(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_make_dev_runs_the_flow_and_stops_clean(dev_stack: dict[str, Any]) -> None:
    search = f"http://127.0.0.1:{dev_stack['SEARCH_PORT']}"
    source = f"http://127.0.0.1:{dev_stack['DEV_SOURCE_PORT']}"
    banner = "".join(dev_stack["output"])
    assert f"{search}/" in banner and f"{source}/records" in banner and "curl" in banner

    # The demo cities are searchable at once, typo included.
    hits = requests.get(f"{search}/search", params={"q": "shangai"}, timeout=10).json()["hits"]
    assert hits[0]["document"]["title"] == "Shanghai"
    city = hits[0]["id"]

    # A change at the source is live after a tick of the local PingSource.
    requests.put(f"{source}/records/{city}", json={"title": "Shanghai Harbourfront"}, timeout=10).raise_for_status()

    def renamed() -> bool:
        doc = requests.get(f"{search}/documents/{city}", timeout=10).json()
        return bool(doc.get("title") == "Shanghai Harbourfront")

    assert eventually(renamed)
    # A tombstone makes it vanish.
    requests.delete(f"{source}/records/{city}", timeout=10).raise_for_status()
    assert eventually(lambda: requests.get(f"{search}/documents/{city}", timeout=10).status_code == 404)
    # `make demo-change`'s endpoint: an insert shows up too.
    inserted = requests.post(f"{source}/change", timeout=10).json()["inserted"][0]
    assert eventually(lambda: requests.get(f"{search}/documents/{inserted}", timeout=10).status_code == 200)

    # Ctrl-C (SIGINT to the foreground process group) stops every process of the stack.
    proc = dev_stack["proc"]
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    dev_stack["reader"].join(10)
    assert "[dev] stopped" in "".join(dev_stack["output"])
    needles = _servers(dev_stack)
    assert eventually(lambda: not _processes_mentioning(*needles) and not _in_session(proc.pid), 15)
    assert _processes_mentioning(*needles) == []
    assert _in_session(proc.pid) == []


def test_an_edit_to_a_function_or_the_shared_package_is_live_within_seconds(tmp_path: Path, es_url: str) -> None:
    work = tmp_path / "work"
    launcher = ["scripts/__init__.py", "scripts/function_server.py"]
    for path in [*sources(), *launcher]:  # the image's files, and the dev launcher
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, work / path)
    port = free_port()
    env = {**os.environ, "ES_URL": es_url, "PYTHONPATH": str(work)}  # the copy's hermes/, not the repo's
    with (tmp_path / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.function_server", "search", str(port)],
            cwd=work,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        assert eventually(lambda: requests.get(f"{url}/openapi.json", timeout=5).json()["info"]["title"])
        # The shared package: the OpenAPI title comes from hermes/search/openapi.py.
        openapi = work / "hermes" / "search" / "openapi.py"
        openapi.write_text(openapi.read_text().replace('"title": "Hermes search"', '"title": "Hermes edited"'))

        def titled() -> bool:
            return bool(requests.get(f"{url}/openapi.json", timeout=5).json()["info"]["title"] == "Hermes edited")

        assert eventually(titled, 30)
        # The function's own file.
        main = work / "functions" / "search" / "main.py"
        main.write_text(
            main.read_text().replace(
                "    return handle_search(request)",
                "    answer = handle_search(request)\n    answer.headers['X-Edited'] = 'yes'\n    return answer",
            )
        )
        assert eventually(lambda: requests.get(f"{url}/health/live", timeout=5).headers.get("X-Edited") == "yes", 30)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
