"""Search analytics against the real Elasticsearch, through the search function as it runs in production
(functions-framework's gunicorn): written in the background, drained when SIGTERM stops the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import requests

from hermes.client import build_client
from hermes.load.full import full_load
from hermes.operator.analytics import report
from hermes.settings import Settings
from tests.integration.search.test_declared_fields import BOOKS
from tests.support.process import ROOT, running
from tests.support.settings import environ, settings_with

pytestmark = pytest.mark.integration


def _loaded(settings: Settings) -> Settings:
    full_load(build_client(settings), settings)
    return settings


@pytest.fixture
def library(make_settings: Any) -> Settings:
    """The library in this test's own alias, for a test that writes analytics beside it."""
    return _loaded(make_settings(DATA_SOURCE_URL=BOOKS))


@pytest.fixture(scope="module")
def quiet_library(es_url: str, module_alias: str) -> Settings:
    """The library, loaded once for the tests that write no analytics (and check that none were written)."""
    return _loaded(settings_with(ES_URL=es_url, ES_INDEX=module_alias, DATA_SOURCE_URL=BOOKS))


@pytest.mark.slow  # runs the search function as a process, then stops it
def test_searches_are_recorded_and_flushed_on_sigterm(library: Any, es: Any, es_url: str) -> None:
    # A flush interval of an hour: only the drain at exit can write these events.
    env = environ(library, HERMES_ANALYTICS=True, HERMES_ANALYTICS_FLUSH_S=3600, HERMES_ANALYTICS_BATCH=1000)
    queries = ["Hobbit", "  the HOBBIT ", "the hobbit", "hobbit", "qqxxzzyy", "QQXXZZYY", "*"]
    with running("search", "search", env) as url:
        for q in queries:
            assert requests.get(f"{url}/search", params={"q": q}, timeout=10).status_code == 200
        metrics = requests.get(f"{url}/metrics", timeout=10).text
        assert "hermes_search_zero_results_total 2.0" in metrics
        assert not es.indices.get(index=f"{library.analytics_prefix}-*")  # nothing written yet
    es.indices.refresh(index=f"{library.analytics_prefix}-*")
    docs = [h["_source"] for h in es.search(index=f"{library.analytics_prefix}-*", size=100)["hits"]["hits"]]
    assert sorted(d["query"] for d in docs) == sorted(
        ["hobbit", "the hobbit", "the hobbit", "hobbit", "qqxxzzyy", "qqxxzzyy", "*"]
    )
    assert {d["query"]: (d["total"], d["zero"]) for d in docs}["qqxxzzyy"] == (0, True)
    assert all(isinstance(d["took_ms"], int) and d["at"].endswith("Z") for d in docs)

    summary = report(es, library.analytics_prefix, "1d")
    assert (summary["searches"], summary["zero_result_searches"]) == (7, 2)
    assert {q["query"]: q["count"] for q in summary["top_queries"]} == {
        "hobbit": 2,
        "the hobbit": 2,
        "qqxxzzyy": 2,
        "*": 1,
    }
    assert summary["top_zero_result_queries"] == [{"query": "qqxxzzyy", "count": 2}]
    cli = subprocess.run(
        [sys.executable, "-m", "hermes", "analytics", "--since", "1h"],
        cwd=ROOT,
        check=True,
        env={**os.environ, **environ(library)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(cli.stdout)["top_zero_result_queries"] == [{"query": "qqxxzzyy", "count": 2}]


def test_analytics_off_writes_nothing_and_still_counts_zero_results(
    quiet_library: Settings, es: Any, function_client: Any
) -> None:
    client = function_client("search", quiet_library)
    assert client.get("/search?q=qqxxzzyy").get_json()["total"] == 0
    assert "hermes_search_zero_results_total 1.0" in client.get("/metrics").get_data(as_text=True)
    assert not es.indices.get(index=f"{quiet_library.analytics_prefix}-*")


def test_no_analytics_yet_is_an_empty_report(quiet_library: Settings, es: Any) -> None:
    assert report(es, quiet_library.analytics_prefix, "7d")["searches"] == 0


def test_a_bad_since_is_refused_by_name() -> None:
    cli = subprocess.run(
        [sys.executable, "-m", "hermes", "analytics", "--since", "7 days"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode == 2
    assert "--since" in cli.stderr
