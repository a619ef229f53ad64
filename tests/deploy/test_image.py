"""The image as it runs: the pinned install, hermes/ from the source being built,
each function started by the launcher's rules as the rendered user on a read-only root, SIGTERM.

How each step mirrors the buildpack, the launcher and Knative: tests/deploy/image.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.deploy.image import Image, build, container_env, launch_env, sandbox, service_spec
from tests.deploy.manifests import helm_template
from tests.support.datasource import record, serve
from tests.support.process import descendants, free_port, wait_live

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SERVICES = {"search": "hermes-search", "full_load": "hermes-full-load", "delta_load": "hermes-delta-load"}
FULL_LOAD = {
    "Ce-Specversion": "1.0",
    "Ce-Type": "dev.hermes.load.full",
    "Ce-Source": "curl",
    "Ce-Id": "image-1",
    "Content-Type": "application/json",
}
TICK = {
    "Ce-Specversion": "1.0",
    "Ce-Type": "dev.knative.sources.ping",
    "Ce-Id": "image-tick",
    "Ce-Source": "/apis/v1/namespaces/hermes/pingsources/hermes-delta",
    "Content-Type": "application/json",
}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    if shutil.which("bwrap") is None:
        message = "bubblewrap is needed to run the image test (apt-get install bubblewrap; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    where = tmp_path_factory.mktemp("image")
    where.chmod(0o755)
    return build(where)


@pytest.fixture(scope="module")
def rendered(tools: Path) -> list[dict[str, Any]]:
    return helm_template(tools)


def _layer_python(image: Image, code: str) -> str:
    out = subprocess.run(
        [str(image.layer / "bin" / "python"), "-c", code], cwd="/", capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_the_layer_holds_exactly_the_lock_and_hermes_comes_from_the_source(image: Image) -> None:
    check = subprocess.run(
        [str(image.layer / "bin" / "python"), "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout  # the buildpack fails the build otherwise
    freeze = subprocess.run(
        [str(image.layer / "bin" / "python"), "-m", "pip", "freeze", "--exclude-editable", "--all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {
        line.lower().replace("_", "-") for line in freeze.splitlines() if not line.startswith(("pip==", "setuptools=="))
    }
    pinned = {
        line
        for line in (image.workspace / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert installed == pinned
    # A cached dependency layer must not carry a copy of hermes/: it points at the source being built.
    assert _layer_python(image, "import hermes; print(hermes.__file__)") == str(image.workspace / "hermes/__init__.py")


@contextmanager
def launched(image: Image, rendered: list[dict[str, Any]], function: str, **env: str) -> Iterator[Any]:
    """Start `function` as the launcher would, in the sandbox; yield (url, process, log path)."""
    service = SERVICES[function]
    security = service_spec(rendered, service)["containers"][0]["securityContext"]
    port = free_port()
    full_env = {**container_env(rendered, service), **env, **launch_env(image, function, service, port)}
    log = image.workspace.parent / f"{function}-{port}.log"
    argv = [*sandbox(image, security["runAsUser"], security["runAsGroup"]), "functions-framework"]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_live(url, proc, 60), log.read_text()
        yield url, proc, log
    finally:
        # bwrap forwards no signal: stop the server itself, then whatever is left under bwrap.
        if proc.poll() is None:
            with suppress(AssertionError, ProcessLookupError):
                os.kill(_server_pid(proc.pid), signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        for pid in descendants(proc.pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _server_pid(sandbox_pid: int) -> int:
    """The functions-framework process (gunicorn's arbiter) under bwrap: what the kubelet signals."""
    for pid in descendants(sandbox_pid):
        with suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if any(part.endswith(b"functions-framework") for part in cmdline[:2]) and b"bwrap" not in cmdline[0]:
                return pid
    raise AssertionError(f"no functions-framework process under {sandbox_pid}")


def _uid(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("Uid:"))
    return int(line.split()[1])


def _clean_start(log: Path) -> None:
    text = log.read_text()
    assert "ERROR" not in text and "Traceback" not in text, text


def test_each_function_serves_as_the_rendered_user_on_a_read_only_root(
    image: Image, rendered: list[dict[str, Any]], es_url: str, alias: str
) -> None:
    with serve() as (source_url, src):
        src.put(record("a", "2026-01-01T00:00:00Z", title="Lighthouse keepers"))
        env = {"ES_URL": es_url, "ES_INDEX": alias, "DATA_SOURCE_URL": source_url}
        with launched(image, rendered, "full_load", **env) as (url, proc, log):
            assert _uid(_server_pid(proc.pid)) == 1000
            resp = requests.post(url, data=b"{}", headers=FULL_LOAD, timeout=120)
            assert resp.status_code == 200, resp.text
            assert resp.json()["status"] == "completed"
        _clean_start(log)
        src.put(record("b", "2026-01-02T00:00:00Z", title="Lighthouse lamps"))
        with launched(image, rendered, "delta_load", **env) as (url, _proc, log):
            resp = requests.post(url, data=b'{"message": "tick"}', headers=TICK, timeout=120)
            assert resp.status_code == 200, resp.text
            assert resp.json()["indexed"] == 1
        _clean_start(log)
        with launched(image, rendered, "search", **env) as (url, _proc, log):
            resp = requests.get(f"{url}/search", params={"q": "lighthouse"}, timeout=30)
            assert resp.status_code == 200, resp.text
            assert {hit["id"] for hit in resp.json()["hits"]} == {"a", "b"}
        _clean_start(log)


def test_sigterm_lets_the_in_flight_load_finish_within_the_grace_period(
    image: Image, rendered: list[dict[str, Any]], es_url: str, alias: str
) -> None:
    grace = service_spec(rendered, SERVICES["full_load"])["timeoutSeconds"]  # Knative: the grace period
    with serve() as (source_url, src):
        src.put(record("a", "2026-01-01T00:00:00Z"))
        env = {"ES_URL": es_url, "ES_INDEX": alias, "DATA_SOURCE_URL": source_url}
        with launched(image, rendered, "full_load", **env) as (url, proc, log):
            answers: list[requests.Response] = []
            src.hold()
            poster = threading.Thread(
                target=lambda: answers.append(requests.post(url, data=b"{}", headers=FULL_LOAD, timeout=120)),
                daemon=True,
            )
            poster.start()
            assert src.arrived.wait(30)  # the load is in flight, reading the source
            signalled = time.monotonic()
            os.kill(_server_pid(proc.pid), signal.SIGTERM)
            time.sleep(1)
            assert proc.poll() is None  # still finishing the request
            src.release()
            poster.join(60)
            assert answers and answers[0].status_code == 200, log.read_text()
            assert answers[0].json()["status"] == "completed"
            assert proc.wait(timeout=grace) == 0
            assert time.monotonic() - signalled < grace
        _clean_start(log)
