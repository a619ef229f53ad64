"""Test fixtures: isolated process state, and one real Elasticsearch for the session."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support import shared_es

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from hermes.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
_PREFIXES = ("ES_", "DATA_SOURCE_", "HERMES_")


def clear_caches() -> None:
    """Forget every per-process singleton (settings, client, apps, metrics)."""
    from hermes import client, config
    from hermes.search import app, metrics, openapi

    for fn in (
        config.get_settings,
        client.get_client,
        client._cached_transport,
        app.get_search_app,
        app._one_app,
        metrics.get_metrics,
        openapi._document,
    ):
        fn.cache_clear()


@pytest.fixture(autouse=True)
def isolate_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's ES_*/HERMES_* variables or another test's singletons."""
    for name in list(os.environ):
        if name.startswith(_PREFIXES) and name != "HERMES_CACHE_DIR":
            monkeypatch.delenv(name)
    clear_caches()
    yield
    clear_caches()


_SERVER_INFO: list[str] = []
# pytest-xdist's controller: the folder its workers share the session's Elasticsearch in.
_SHARE = pytest.StashKey[Path]()


@pytest.hookimpl(tryfirst=True)  # before Hypothesis' plugin loads the profile `--hypothesis-profile` names
def pytest_configure(config: pytest.Config) -> None:
    """Set up the functions' JSON logging once, before any test runs; choose Hypothesis' profile.

    `configure_logging` replaces the root logger's handlers the first time a process calls it. Called inside a
    test (the first app a worker builds), it also dropped that test's `caplog` handler, so a log assertion failed
    or passed depending on which test a worker happened to run first.
    """
    from hypothesis import settings as hypothesis_settings

    from hermes.logs import configure_logging

    configure_logging()
    # No per-example deadline (a wall-clock limit that a busy machine breaks). CI (`.ci/run` sets CI) draws
    # the same property-test examples every run, so a red run is reproducible and never a new random draw;
    # a developer's runs keep exploring fresh examples.
    # `make test-fast` passes ``--hypothesis-profile=fast``: a fifth of the examples, drawn as above
    # (tests/support/examples.py scales the tests that set their own count).
    hypothesis_settings.register_profile("hermes", deadline=None)
    hypothesis_settings.register_profile("ci", deadline=None, derandomize=True)
    base = "ci" if os.environ.get("CI") else "hermes"
    hypothesis_settings.register_profile("fast", hypothesis_settings.get_profile(base), max_examples=20)
    hypothesis_settings.load_profile(config.getoption("hypothesis_profile", None) or base)


def _needs_es(item: pytest.Item) -> bool:
    return "es_url" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A pytest-xdist worker's order of the modules (`make test` runs ``--dist loadfile
    --no-loadscope-reorder``, which hands out whole modules in this order): first the modules that need no
    Elasticsearch, run while the shared server starts (:func:`pytest_collection_finish`), then those that do;
    in each, the modules holding ``slow`` tests first (a few long scenarios: started last, one such module
    alone held `make test` up by a minute), then the modules with the most tests. A module's own tests keep
    their order.
    """
    if not hasattr(config, "workerinput"):
        return
    module = {item.nodeid: item.nodeid.split("::", 1)[0] for item in items}
    size = Counter(module.values())
    needs_es = {module[item.nodeid] for item in items if _needs_es(item)}
    slow = {module[item.nodeid] for item in items if item.get_closest_marker("slow")}
    position = {item.nodeid: i for i, item in enumerate(items)}
    first = {}
    for item in items:
        first.setdefault(module[item.nodeid], position[item.nodeid])

    def order(item: pytest.Item) -> tuple[bool, bool, int, int, int]:
        name = module[item.nodeid]
        return name in needs_es, name not in slow, -size[name], first[name], position[item.nodeid]

    items.sort(key=order)


def pytest_collection_finish(session: pytest.Session) -> None:
    """A pytest-xdist worker that collected tests needing Elasticsearch starts the shared one now, without
    waiting for it, unless it was started already: the controller starts it before the workers collect when
    the run reaches beyond tests/unit (:func:`pytest_configure_node`), so this is the fallback for a run of
    unit-test paths that holds a test needing it."""
    folder = shared_es.folder_of(session.config)
    if folder is not None and any(_needs_es(item) for item in session.items):
        _launch(folder)


def _launch(folder: Path) -> None:
    """Start the shared server; a failed start is recorded for every worker (each test needing the server
    then fails with its reason), so it does not end the session here, with the unit tests unrun."""
    with suppress(Exception, SystemExit):
        shared_es.launch(folder)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which Elasticsearch the integration tests talked to (under pytest-xdist: the one the workers shared)."""
    folder = terminalreporter.config.stash.get(_SHARE, None)
    url = shared_es.started_url(folder) if folder else None
    if url:
        _describe_server(url, "started by the tests, shared by the workers", lambda *_: None)
    for line in _SERVER_INFO:
        terminalreporter.write_line(line)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist's controller: give every worker the folder where the session's Elasticsearch runs
    (unless ``HERMES_TEST_ES_URL`` names one). The controller starts it at once when the run reaches beyond
    the unit tests; otherwise the first worker that collects a test needing it does."""
    if os.environ.get("HERMES_TEST_ES_URL"):
        return
    config = node.config
    if _SHARE not in config.stash:
        # In memory: Elasticsearch syncs its cluster state and translog to disk on every index created,
        # refreshed or deleted, which each test does; on tmpfs a sync costs nothing (make test-fast: 48 s
        # against 55 s on the disk, minutes apart on this machine).
        config.stash[_SHARE] = Path(tempfile.mkdtemp(prefix="hermes-es-shared-", dir=shared_es.memory_dir()))
        if shared_es.may_need_es(config.args, config.rootpath):
            _launch(config.stash[_SHARE])  # before the workers even start collecting
    node.workerinput[shared_es.KEY] = str(config.stash[_SHARE])


def pytest_unconfigure(config: pytest.Config) -> None:
    """The controller stops the shared Elasticsearch once every worker is done."""
    folder = config.stash.get(_SHARE, None)
    if folder is not None:
        shared_es.stop(folder)


def _describe_server(url: str, how: str, record: Callable[[str, object], None]) -> None:
    """Say which server and Java the tests use: in the summary, and in a JUnit report (`make test-matrix`)."""
    from scripts import local_es

    version, java = local_es.server_version(url), local_es.server_java(url)
    record("elasticsearch_version", version)
    record("elasticsearch_java", java)
    _SERVER_INFO.append(f"Elasticsearch {version} on {java} at {url} ({how})")


@pytest.fixture(scope="session")
def es_url(request: pytest.FixtureRequest, record_testsuite_property: Callable[[str, object], None]) -> Iterator[str]:
    """A real Elasticsearch: ``HERMES_TEST_ES_URL`` if given, else one we start and stop (under
    pytest-xdist: one for all workers, tests/support/shared_es.py).

    The one we start is ``HERMES_ES_VERSION`` (scripts/local_es.py), read here, before any test's
    ``isolate_environment``: a session fixture is set up ahead of the function-scoped ones.
    """
    from scripts import local_es

    given = os.environ.get("HERMES_TEST_ES_URL")
    if given:
        _describe_server(given, "HERMES_TEST_ES_URL", record_testsuite_property)
        yield given
        return
    shared = shared_es.folder_of(request.config)
    if shared is not None:
        yield shared_es.url(shared)
        return
    run_dir = Path(tempfile.mkdtemp(prefix="hermes-es-", dir=shared_es.memory_dir()))
    server = local_es.start(run_dir, jvm=local_es.SHORT_RUN_JVM)
    try:
        _describe_server(server.url, "started by the tests", record_testsuite_property)
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def _owned_alias(es_url: str) -> Iterator[str]:
    """A unique alias; its indices and the indices beside it (state, rules, analytics) are deleted afterwards."""
    import requests

    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    # Deleting by wildcard is refused (action.destructive_requires_name): resolve names first.
    found = requests.get(f"{es_url}/{name}-*,{name}.hermes-*?filter_path=*.aliases", timeout=30)
    names = ",".join(found.json()) if found.status_code == 200 else ""
    if names:
        requests.delete(f"{es_url}/{names}", timeout=30).raise_for_status()


@pytest.fixture
def alias(es_url: str) -> Iterator[str]:
    """A unique alias for one test (a test that writes owns its alias); deleted afterwards."""
    yield from _owned_alias(es_url)


@pytest.fixture(scope="module")
def module_alias(es_url: str) -> Iterator[str]:
    """A unique alias shared by one module's read-only tests (one load per module); deleted after it."""
    yield from _owned_alias(es_url)


@pytest.fixture
def make_settings(es_url: str, alias: str) -> Any:
    """Build ``Settings`` for this test's alias (keyword names are the env variable names)."""
    from hermes.settings import Settings

    def build(**env: Any) -> Settings:
        return Settings(**{"ES_URL": es_url, "ES_INDEX": alias, **env})

    return build


@pytest.fixture
def es(es_url: str) -> Iterator[Elasticsearch]:
    from hermes.client import build_client
    from hermes.settings import Settings

    client = build_client(Settings(ES_URL=es_url, HERMES_ES_TIMEOUT_S=30))  # type: ignore[call-arg]
    yield client
    client.close()


@pytest.fixture
def function_client(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``function_client(name, settings=None, **overrides)``: the real function, via functions-framework,
    with its whole environment derived from ``settings`` (overrides by variable name), as a pod gets it."""
    from functions_framework import create_app

    from tests.support.settings import configure

    def build(name: str, settings: Settings | None = None, **overrides: Any) -> Any:
        configure(monkeypatch, settings, **overrides)
        clear_caches()
        return create_app(name, f"functions/{name}/main.py").test_client()

    return build


@pytest.fixture
def lock_clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The load lock's wall clock, moved forward by the test instead of waiting out a TTL."""
    from tests.support.clock import shift_lock_clock

    return shift_lock_clock(monkeypatch)


@pytest.fixture(scope="session")
def tools() -> Path:
    """The folder of the built helm, kustomize, kn and checkers (scripts/tools.sh builds them once, then
    answers from cache); `make test` passes it as ``HERMES_TOOLS_BIN``."""
    import subprocess

    given = os.environ.get("HERMES_TOOLS_BIN")
    if given:
        return Path(given)
    out = subprocess.run(["bash", str(ROOT / "scripts" / "tools.sh")], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])
