"""Request metrics: counted after a cold start's first answer, and none lost on the way."""

from __future__ import annotations

import functools
import threading
import time

import pytest

from hermes.search import metrics
from hermes.search.metrics import RequestMetrics, get_metrics


def _count(route: str, status: int) -> float:
    labels = {"route": route, "status": str(status)}
    value = get_metrics().registry.get_sample_value("hermes_http_requests_total", labels)
    return value or 0.0


def test_observations_before_the_collectors_exist_are_queued_then_counted() -> None:
    counted = RequestMetrics()
    assert counted.observe("/search", 200, 0.01) is False  # nothing built on the first answer's path
    assert get_metrics.cache_info().currsize == 0
    counted.collectors()
    assert _count("/search", 200) == 1.0
    assert counted.observe("/search", 200, 0.01) is True
    assert _count("/search", 200) == 2.0


def test_a_search_that_found_nothing_before_the_collectors_exist_builds_nothing() -> None:
    """A cold start's first search with zero hits (or an Elasticsearch error) once built the collectors
    synchronously, importing prometheus_client in that first answer; it is queued like any observation."""
    counted = RequestMetrics()
    assert counted.update(lambda m: m.zero_results.inc()) is False
    assert counted.update(lambda m: m.es_errors.labels(type="unavailable").inc()) is False
    assert get_metrics.cache_info().currsize == 0
    registry = counted.collectors().registry
    assert registry.get_sample_value("hermes_search_zero_results_total") == 1.0
    assert registry.get_sample_value("hermes_elasticsearch_errors_total", {"type": "unavailable"}) == 1.0


def test_the_background_build_replays_the_queue() -> None:
    counted = RequestMetrics()
    counted.observe("/suggest", 400, 0.002)
    counted.build_in_background()
    for thread in threading.enumerate():
        if thread.name == "hermes-metrics":
            thread.join()
    assert get_metrics.cache_info().currsize == 1
    assert _count("/suggest", 400) == 1.0


def test_no_observation_is_lost_while_threads_race_the_build() -> None:
    counted = RequestMetrics()
    start = threading.Barrier(5)

    def requests() -> None:
        start.wait()
        for _ in range(200):
            counted.observe("/search", 200, 0.001)

    def build() -> None:
        start.wait()
        counted.collectors()

    threads = [threading.Thread(target=requests) for _ in range(4)] + [threading.Thread(target=build)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counted.collectors()
    assert _count("/search", 200) == 800.0


def test_concurrent_first_uses_build_one_set_of_collectors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: two requests queued at start-up each started a build, and the counts replayed into the
    collectors built first were lost when the second build replaced them."""

    @functools.cache
    def slow_build() -> metrics.Metrics:
        time.sleep(0.01)  # a real first build imports prometheus_client: other threads run meanwhile
        return real_build.__wrapped__()

    real_build = metrics.get_metrics
    monkeypatch.setattr(metrics, "get_metrics", slow_build)
    counted = RequestMetrics()
    counted.observe("/", 200, 0.001)
    start = threading.Barrier(4)
    seen: list[object] = []

    def first_use() -> None:
        start.wait()
        seen.append(counted.collectors())

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(built is seen[0] for built in seen)
    assert seen[0] is slow_build()
    assert seen[0].registry.get_sample_value("hermes_http_requests_total", {"route": "/", "status": "200"}) == 1.0
