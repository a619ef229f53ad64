"""The test cluster's function images (scripts/cluster/images.py) as the kubelet runs them: imported by
containerd 1.6 under their hermes.local names, started by runc as the image's user (the chart's 1000) on a
read-only root with a tmpfs /tmp and no capabilities, answering from a real Elasticsearch.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.cluster import images
from tests.deploy.containerd import Containerd, started
from tests.deploy.image import container_env, service_spec
from tests.deploy.manifests import helm_template
from tests.support.datasource import record, serve
from tests.support.process import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOOLS = ("mmdebstrap", "bwrap", "containerd", "ctr", "runc")
SERVICES = {"search": "hermes-search", "full_load": "hermes-full-load"}
FULL_LOAD = {
    "Ce-Specversion": "1.0",
    "Ce-Type": "dev.hermes.load.full",
    "Ce-Source": "curl",
    "Ce-Id": "cluster-image-1",
    "Content-Type": "application/json",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path]]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} needed to build and run the cluster images (make system-deps)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if os.geteuid() != 0:
        pytest.skip("containerd and runc need root here (the cluster runs as root)")
    return {function: (ref, out) for function, ref, out in images.build(list(SERVICES))}


@pytest.fixture(scope="module")
def daemon(built: dict[str, tuple[str, Path]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Containerd]:
    with started(tmp_path_factory.mktemp("containerd")) as ctrd:
        for _ref, archive in built.values():
            ctrd.ctr("images", "import", str(archive))
        yield ctrd


@pytest.fixture(scope="module")
def rendered(tools: Path) -> list[dict[str, Any]]:
    return helm_template(tools)


def test_containerd_imports_each_archive_under_its_hermes_local_name(
    daemon: Containerd, built: dict[str, tuple[str, Path]]
) -> None:
    assert {ref for ref, _ in built.values()} <= daemon.images()
    assert all(ref.startswith("hermes.local/hermes/") for ref, _ in built.values())


def test_the_image_user_is_the_charts(rendered: list[dict[str, Any]]) -> None:
    """The chart pins runAsUser/runAsGroup; the image says the same, so a pod without them runs alike."""
    for function, service in SERVICES.items():
        security = service_spec(rendered, service)["containers"][0]["securityContext"]
        assert images.config(function).user == f"{security['runAsUser']}:{security['runAsGroup']}"


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def _root_mount_options(pid: int) -> list[str]:
    for line in Path(f"/proc/{pid}/mounts").read_text().splitlines():
        fields = line.split()
        if fields[1] == "/":
            return fields[3].split(",")
    raise AssertionError("no root mount")


def _wait_ready(url: str, log: Path, wait_s: float = 90) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/health/live", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise AssertionError(log.read_text())


@contextmanager
def launched(
    daemon: Containerd, built: dict[str, tuple[str, Path]], rendered: list[dict[str, Any]], function: str, **env: str
) -> Iterator[tuple[str, int, Path]]:
    """The function's container with the rendered Service's env (and Knative's PORT and K_*); yields
    (url, host pid, log)."""
    service = SERVICES[function]
    port = free_port()
    knative = {"PORT": str(port), "K_SERVICE": service, "K_CONFIGURATION": service, "K_REVISION": f"{service}-00001"}
    log = daemon.folder / f"{function}-{port}.log"
    with daemon.run(built[function][0], {**container_env(rendered, service), **env, **knative}, log) as pid:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, log)
        yield url, pid, log
    text = log.read_text()
    assert "Traceback" not in text, text


def test_search_answers_from_its_image_as_the_kubelet_runs_it(
    daemon: Containerd, built: dict[str, tuple[str, Path]], rendered: list[dict[str, Any]], es_url: str, alias: str
) -> None:
    with serve() as (source_url, src):
        src.put(record("a", "2026-01-01T00:00:00Z", title="Lighthouse keepers"))
        env = {"ES_URL": es_url, "ES_INDEX": alias, "DATA_SOURCE_URL": source_url}
        with launched(daemon, built, rendered, "full_load", **env) as (url, _pid, _log):
            resp = requests.post(url, data=b"{}", headers=FULL_LOAD, timeout=120)
            assert resp.status_code == 200, resp.text
            assert resp.json()["status"] == "completed"
        with launched(daemon, built, rendered, "search", **env) as (url, pid, log):
            status = _status(pid)
            assert status["Uid"].split()[:2] == ["1000", "1000"] and status["Gid"].split()[0] == "1000"
            assert int(status["CapEff"], 16) == 0 and status["NoNewPrivs"] == "1"
            assert "ro" in _root_mount_options(pid)
            ready = requests.get(f"{url}/health/ready", timeout=30)
            assert ready.status_code == 200, ready.text + log.read_text()
            resp = requests.get(f"{url}/search", params={"q": "lighthouse"}, timeout=30)
            assert resp.status_code == 200, resp.text
            assert [hit["id"] for hit in resp.json()["hits"]] == ["a"]
