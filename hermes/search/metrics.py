"""Prometheus metrics of the search function.

The collectors cost ~15-20 ms to build (importing ``prometheus_client`` and creating them). They
are not built on a cold start's first answer: until they exist, :class:`RequestMetrics` queues the
request's observations (its latency, a search that found nothing, an Elasticsearch error) and the app
builds them once that answer is sent (``call_on_close``);
every queued observation is replayed into them before anything reads them (``collectors``),
so no request goes uncounted.

Threads: request threads call :meth:`RequestMetrics.observe`; a builder thread runs
:meth:`RequestMetrics.build_in_background`; the queue is guarded by the object's lock. Once the
collectors exist, ``observe`` takes no lock (the collectors lock themselves).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Update = Callable[["Metrics"], None]  # one observation or count, applied to the collectors


@dataclass(frozen=True)
class Metrics:
    """The collectors, in a registry of their own (not the global default)."""

    registry: Any
    requests: Any
    latency: Any
    es_errors: Any
    zero_results: Any
    analytics_lost: Any
    # Labelled children by (route, status): ``.labels()`` costs more than the increment itself.
    _children: dict[tuple[str, int], tuple[Any, Any]] = field(default_factory=dict)

    def observe(self, route: str, status: int, seconds: float) -> None:
        children = self._children.get((route, status))
        if children is None:  # routes are rule templates and statuses a few codes: a bounded set
            children = (self.requests.labels(route=route, status=str(status)), self.latency.labels(route=route))
            self._children[route, status] = children
        children[0].inc()
        children[1].observe(seconds)

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
        requests=Counter(
            "hermes_http_requests", "HTTP requests by route and status", ["route", "status"], registry=registry
        ),
        latency=Histogram(
            "hermes_http_request_duration_seconds",
            "Request latency by route",
            ["route"],
            registry=registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        ),
        es_errors=Counter(
            "hermes_elasticsearch_errors", "Elasticsearch failures by error type", ["type"], registry=registry
        ),
        zero_results=Counter("hermes_search_zero_results", "Searches that found nothing", registry=registry),
        analytics_lost=Counter(
            "hermes_analytics_lost_events",
            "Analytics events not written: dropped (queue full) or failed (Elasticsearch refused or unreachable)",
            ["reason"],
            registry=registry,
        ),
    )


def _built() -> bool:
    return get_metrics.cache_info().currsize > 0


class RequestMetrics:
    """The search app's way to the collectors: queues requests until they exist, builds them once."""

    def __init__(self) -> None:
        self._pending: list[Update] = []
        self._lock = threading.Lock()  # guards the queue
        self._building = threading.Lock()  # one build: ``functools.cache`` alone lets two threads build two
        self._builder: threading.Thread | None = None

    def observe(self, route: str, status: int, seconds: float) -> bool:
        """Count one answered request; False when it was queued because the collectors do not exist yet."""
        return self.update(lambda m: m.observe(route, status, seconds))

    def update(self, change: Update) -> bool:
        """Apply ``change`` to the collectors, or queue it until they exist (False then)."""
        if not _built():
            with self._lock:
                if not _built():
                    self._pending.append(change)
                    return False
        change(self.collectors())
        return True

    def collectors(self) -> Metrics:
        """The collectors with every queued observation in them (built here if need be)."""
        if _built():
            metrics = get_metrics()
        else:
            with self._building:
                metrics = get_metrics()
        if self._pending:
            self._replay(metrics)
        return metrics

    def build_in_background(self) -> None:
        """Build the collectors on a thread of their own (called once a first answer is sent)."""
        with self._lock:
            if self._builder is not None:
                return
            self._builder = threading.Thread(target=self.collectors, name="hermes-metrics", daemon=True)
        self._builder.start()

    def _replay(self, metrics: Metrics) -> None:
        with self._lock:
            queued = self._pending[:]
            self._pending.clear()
        for change in queued:
            change(metrics)
