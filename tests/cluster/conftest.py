"""The `make cluster-test` suite: the real test cluster, Knative on it, and Hermes installed with helm.

Every test here is skipped unless ``HERMES_CLUSTER_TEST=1`` (``make cluster-test`` sets it); with it, a
cluster that is down or unhealthy FAILS, with what to run. The Hermes scenarios share one release of their
own, ``hermes-e2e`` in the namespace ``hermes-e2e``, installed once per session by :func:`release` with
scripts.cluster.hermes_app.helm_install (what `make cluster` installs with) and tests/cluster/values-e2e.yaml,
and uninstalled at the end (``HERMES_E2E_KEEP=1`` keeps it for a look). Its data source is
tests/support/datasource.py on the host's loopback, reached by the pods as ``records:8080`` through the node's
outward forward on 10.201.0.1; its Elasticsearch is the dev one (``python -m scripts.local_es up``) under an
alias of its own, ``e2e``. The scenarios run in the order of :data:`ORDER`, one after another (two cores).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hermes.client import build_client
from hermes.settings import Settings
from scripts import local_es
from scripts.cluster import forward, hermes_app, lifecycle
from scripts.cluster.knative import kubectl
from tests.cluster.e2e import NAMESPACE, RELEASE, SOURCE_NODE_PORT, Release, post_event, until, until_or_none
from tests.support.datasource import SourceBehaviour, record, serve

HERE = Path(__file__).parent
VALUES = HERE / "values-e2e.yaml"
ORDER = (
    "test_node.py",
    "test_knative.py",
    "test_hermes_install.py",
    "test_hermes_scaling.py",
    "test_hermes_loads.py",
    "test_hermes_schedules.py",
    "test_hermes_dead_letters.py",
    "test_hermes_rollout.py",
)
SOURCE_FORWARD = "hermes-e2e-source"
INITIAL = 60  # records at install: the first load's


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this folder's modules in :data:`ORDER` (install first, the rollout that changes the image last)."""

    def rank(item: pytest.Item) -> int:
        path = Path(str(item.fspath))
        if path.parent != HERE:
            return -1
        return ORDER.index(path.name) if path.name in ORDER else len(ORDER)

    items[:] = sorted(items, key=rank)


@pytest.fixture(scope="session", autouse=True)
def cluster_up() -> None:
    """Skip without HERMES_CLUSTER_TEST=1; with it, fail unless the cluster is up and healthy."""
    if os.environ.get("HERMES_CLUSTER_TEST") != "1":
        pytest.skip("the test cluster suite runs with make cluster-test (HERMES_CLUSTER_TEST=1)")
    if os.geteuid() != 0:
        pytest.fail("make cluster-test needs root: the test cluster's namespaces and files are root's")
    if not lifecycle.is_up():
        pytest.fail("the test cluster is down: start it with `make cluster` (or scripts/cluster/up), then rerun")
    if not lifecycle.healthy():
        pytest.fail(
            "the test cluster is up but unhealthy (a daemon gone, apiserver or node not ready): see "
            "`python -m scripts.cluster.node status` and /var/lib/hermes-cluster/logs/"
        )


def _knative_installed() -> bool:
    crd = kubectl("get", "crd", "services.serving.knative.dev", "brokers.eventing.knative.dev", check=False)
    return crd.returncode == 0


def _forward(name: str, port: int, host_port: int) -> None:
    """An outward forward (10.201.0.1:port -> host 127.0.0.1:host_port) by the node's CLI: its daemons outlive
    the call, so they are not children of this process."""
    argv = [sys.executable, "-m", "scripts.cluster.node", "forward", "out", name, str(port), str(host_port)]
    subprocess.run(argv, cwd=hermes_app.ROOT, check=True)


def _install(source_port: int) -> dict[str, str]:
    """Backends, images and ``helm upgrade --install``; return function -> image reference."""
    es = local_es.dev_up()
    es_port = int(es.rsplit(":", 1)[1].rstrip("/"))
    _forward("hermes-es", 9200, es_port)  # the same forward hermes_app makes for the `hermes` release
    forward.remove(SOURCE_FORWARD)  # a kept release's forward leads to an earlier session's source port
    _forward(SOURCE_FORWARD, SOURCE_NODE_PORT, source_port)
    # A previous session's namespace may still be terminating (Knative's finalizers): wait it out first.
    kubectl("wait", "--for=delete", f"namespace/{NAMESPACE}", "--timeout=300s", check=False)
    hermes_app.backend_services(NAMESPACE, SOURCE_NODE_PORT)
    return hermes_app.helm_install(RELEASE, NAMESPACE, VALUES)


def _uninstall(es_url: str) -> None:
    # Already gone or half made: the namespace's deletion below removes whatever is left.
    with contextlib.suppress(subprocess.CalledProcessError):
        hermes_app.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "5m")
    kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=300s", check=False)
    forward.remove(SOURCE_FORWARD)
    # The release's alias `e2e`: its data indices and its state index (each by name: Elasticsearch refuses a
    # wildcard delete by default).
    client = build_client(Settings.model_validate({"ES_URL": es_url, "ES_INDEX": "e2e"}))
    for index in client.indices.get(index="e2e-*,e2e.hermes-state", ignore_unavailable=True, allow_no_indices=True):
        client.indices.delete(index=index, ignore_unavailable=True)


@pytest.fixture(scope="session")
def release(cluster_up: None) -> Iterator[Release]:
    """The hermes-e2e release, installed once, its first load done; uninstalled at the end of the session."""
    if not _knative_installed():
        pytest.fail("Knative is not installed on the test cluster: run `python -m scripts.cluster.knative install`")
    source = SourceBehaviour(fmt="pages", page_size=10)
    now = datetime.now(UTC)
    source.put(*(record(f"r{i:04d}", now, title=f"Town {i:04d}") for i in range(INITIAL)))
    with serve(source) as (url, state):
        port = int(url.split(":")[2].split("/")[0])
        started = time.monotonic()
        images = _install(port)
        installed_s = time.monotonic() - started
        es_url = local_es.dev_up()
        found = Release(es_url=es_url, source=state, images=images, installed_s=installed_s)
        try:
            yield found
        finally:
            if os.environ.get("HERMES_E2E_KEEP") != "1":
                _uninstall(es_url)


@pytest.fixture(scope="session")
def loaded(release: Release) -> Release:
    """The release once a full load has ended (search serves the initial records).

    The install's own first load is awaited for a while; when it never started (its event reached the Broker
    before the full-load Trigger subscribed, and the Broker had no one to give it to), the scenarios post one
    themselves so that they can run, and test_hermes_install reports the lost event.
    """
    if not until_or_none(release.loads, 90):
        release.notes["first_load_lost"] = "no load after 90 s"
        event_id = post_event("dev.hermes.load.full", {}, source="/cluster-test/first-load")
        release.ended(event_id, 600)
    until("the first full load ends", release.idle, 600, every_s=5)
    return release
