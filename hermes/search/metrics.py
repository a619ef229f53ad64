"""Prometheus metrics of the search function."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metrics:
    """The collectors, in a registry of their own (not the global default)."""

    registry: Any
    requests: Any
    latency: Any
    es_errors: Any
    zero_results: Any
    analytics_lost: Any

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest  # noqa: PLC0415

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


@functools.cache
def get_metrics() -> Metrics:
    """Collectors built on first use (keeps prometheus_client off the import path)."""
    from prometheus_client import CollectorRegistry, Counter, Histogram  # noqa: PLC0415

    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        requests=Counter("hermes_http_requests", "HTTP requests by route and status",
                         ["route", "status"], registry=registry),
        latency=Histogram("hermes_http_request_duration_seconds", "Request latency by route",
                          ["route"], registry=registry,
                          buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)),
        es_errors=Counter("hermes_elasticsearch_errors", "Elasticsearch failures by error type",
                          ["type"], registry=registry),
        zero_results=Counter("hermes_search_zero_results", "Searches that found nothing", registry=registry),
        analytics_lost=Counter("hermes_analytics_lost_events", "Analytics events not written: dropped (queue "
                               "full) or failed (Elasticsearch refused or unreachable)", ["reason"], registry=registry),
    )  # fmt: skip
