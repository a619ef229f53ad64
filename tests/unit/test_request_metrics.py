"""Request metrics: counted after a cold start's first answer, and none lost on the way."""

from __future__ import annotations

import threading

from hermes.search.metrics import RequestMetrics, get_metrics


def _count(route: str, status: int) -> float:
    labels = {"route": route, "status": str(status)}
    value = get_metrics().registry.get_sample_value("hermes_http_requests_total", labels)
    return value or 0.0


def test_observations_before_the_collectors_exist_are_queued_then_counted() -> None:
    counted = RequestMetrics()
    assert counted.observe("/search", 200, 0.01) is False  # nothing built on the first answer's path
    assert get_metrics.cache_info().currsize == 0
    counted.snapshot()
    assert _count("/search", 200) == 1.0
    assert counted.observe("/search", 200, 0.01) is True
    assert _count("/search", 200) == 2.0


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
        counted.snapshot()

    threads = [threading.Thread(target=requests) for _ in range(4)] + [threading.Thread(target=build)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counted.snapshot()
    assert _count("/search", 200) == 800.0
