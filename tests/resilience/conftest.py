"""The resilience suite: real faults against real processes, each scenario a test with a verdict.

`make test` runs the fast subset (small figures, no cluster, no long fuzzing); `make resilience` sets
``HERMES_RESILIENCE=full`` and ``HERMES_RESILIENCE_REPORT=docs/resilience.md``: every scenario at full size,
its evidence and verdict written to the report.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.resilience import report
from tests.resilience.kit import FULL

_RESULTS: dict[str, report.Scenario] = {}
_STARTED = time.time()


class Evidence:
    """What a scenario measured, line by line, for the report (and for the reader of a failure)."""

    def __init__(self, node: pytest.Item) -> None:
        self.node = node

    def __call__(self, line: str) -> None:
        self.node.user_properties.append(("evidence", line))


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    return Evidence(request.node)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep: pytest.TestReport = outcome.get_result()  # a conftest hook: items of tests/resilience only
    scenario = _RESULTS.setdefault(item.nodeid, report.Scenario.of(item))
    scenario.add(rep, [line for key, line in item.user_properties if key == "evidence"])


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("HERMES_RESILIENCE_REPORT")
    if not target or not _RESULTS:
        return
    from scripts import local_es

    text = report.render(
        list(_RESULTS.values()),
        command="make resilience",
        es_version=local_es.es_version(),
        seconds=time.time() - _STARTED,
        full=FULL,
    )
    Path(target).write_text(text)


class PrivateServers:
    """Elasticsearch servers of one module's own, to kill and restart at will (never the session's)."""

    def __init__(self) -> None:
        self.servers: list[Any] = []
        self.roots: list[Path] = []

    def start(self, **settings: str) -> Any:
        """A single node; ``thread_pool__write__size="1"`` sets ``thread_pool.write.size``."""
        from scripts import local_es

        root = Path(tempfile.mkdtemp(prefix="hermes-res-es-"))
        self.roots.append(root)
        server = local_es.start(root, settings={k.replace("__", "."): v for k, v in settings.items()})
        self.servers.append(server)
        return server

    def cluster(self, nodes: int = 3) -> list[Any]:
        from scripts import local_es

        root = Path(tempfile.mkdtemp(prefix="hermes-res-cluster-"))
        self.roots.append(root)
        servers = local_es.start_cluster(root, nodes)
        self.servers += servers
        return servers

    def restart(self, server: Any) -> Any:
        """Start a killed server again on its port, data and settings."""
        from scripts import local_es

        again = local_es.restart(server)
        self.servers.append(again)
        return again

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        for root in self.roots:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def private_es() -> Iterator[PrivateServers]:
    servers = PrivateServers()
    try:
        yield servers
    finally:
        servers.close()
