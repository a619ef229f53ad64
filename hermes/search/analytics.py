"""Search analytics (``HERMES_ANALYTICS=true``): which queries people run, and which find nothing.

::

    request threads ── record() ──▶ queue.Queue(HERMES_ANALYTICS_QUEUE) ──▶ thread "hermes-analytics"
                       put_nowait: when full the event is        wakes every HERMES_ANALYTICS_FLUSH_S, or
                       dropped and counted, never waited for     when a batch is waiting; POST /_bulk of
                                                                 up to HERMES_ANALYTICS_BATCH events into
                                                                 <alias>.hermes-analytics-<YYYY.MM>

A search only normalises its query and puts one small tuple in the queue: it never waits for the
thread, the queue or Elasticsearch. Events the thread cannot write (Elasticsearch down) are counted
and dropped, not retried: analytics must not grow memory without bound. At process exit — gunicorn's
worker exits normally after SIGTERM, so ``atexit`` runs — :meth:`Recorder.close` drains the queue
within a deadline. One index per month beside the alias; drop old months to forget them.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hermes.timestamps import format_rfc3339

if TYPE_CHECKING:
    from elastic_transport import Transport

log = logging.getLogger(__name__)

MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "query": {"type": "keyword", "ignore_above": 512},
        "total": {"type": "long"},
        "took_ms": {"type": "long"},
        "zero": {"type": "boolean"},
        "key": {"type": "keyword"},
        "at": {"type": "date"},
    },
}
SETTINGS: dict[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
_FIRST_BACKOFF_S, _MAX_BACKOFF_S = 5.0, 300.0
CLOSE_DEADLINE_S = 10.0  # within gunicorn's 30 s graceful timeout


@dataclass(frozen=True, slots=True)
class SearchEvent:
    """One search as analytics keeps it."""

    query: str
    total: int
    took_ms: int
    at: datetime
    key: str | None = None  # the search key's sub, when keys are on
    timed_out: bool = False  # stopped at the search's timeout: its total is a lower bound, never a "found nothing"


def found_nothing(total: int, timed_out: bool) -> bool:
    """Whether a search found nothing: no hits, unless it was cut short by its timeout (then its total is a
    lower bound). The zero-results metric and the analytics' ``zero`` both count by this rule."""
    return total == 0 and not timed_out


def normalise(q: str) -> str:
    """The form queries are counted under: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", q).casefold().split())


def index_name(prefix: str, at: datetime) -> str:
    """The month's analytics index."""
    return f"{prefix}-{at.astimezone(UTC):%Y.%m}"


class Recorder:
    """Takes events from request threads; one background thread writes them in batches."""

    def __init__(
        self,
        send: Callable[[list[SearchEvent]], int],
        *,
        capacity: int,
        batch: int,
        flush_s: float,
        on_lost: Callable[[str, int], None],
    ) -> None:
        self.send = send  # writes a batch; returns how many of it Elasticsearch refused
        self.batch, self.flush_s, self.on_lost = batch, flush_s, on_lost
        self._queue: queue.Queue[SearchEvent] = queue.Queue(capacity)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hermes-analytics", daemon=True)
        self._thread.start()

    def record(self, event: SearchEvent) -> None:
        """Queue ``event`` without waiting; when the queue is full it is dropped (and counted)."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.on_lost("dropped", 1)
            return
        if self._queue.qsize() >= self.batch:
            self._wake.set()

    def close(self, deadline_s: float = CLOSE_DEADLINE_S) -> None:
        """Write what is queued (within ``deadline_s``) and stop the thread."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(deadline_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            self._drain()
        self._drain()

    def _drain(self) -> None:
        while events := self._take():
            try:
                refused = self.send(events)
            except Exception as exc:  # Elasticsearch unreachable, timed out, refused the request
                log.warning("analytics batch lost", extra={"events": len(events), "error": type(exc).__name__})
                refused = len(events)
            if refused:
                self.on_lost("failed", refused)

    def _take(self) -> list[SearchEvent]:
        events: list[SearchEvent] = []
        while len(events) < self.batch:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return events


class BulkSender:
    """Writes events into their month's index over the search function's transport."""

    def __init__(self, transport: Transport, prefix: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.transport, self.prefix, self.clock = transport, prefix, clock
        self._created: set[str] = set()
        self._refused: dict[str, tuple[float, float]] = {}  # index -> (next attempt at, back-off so far)

    def __call__(self, events: list[SearchEvent]) -> int:
        for name in {index_name(self.prefix, event.at) for event in events}:
            self._ensure(name)
        # A list body with the NDJSON content type is serialized by the transport's own NdjsonSerializer.
        resp = self.transport.perform_request(
            "POST",
            "/_bulk",
            body=[line for event in events for line in self._action(event)],
            headers={"content-type": "application/x-ndjson", "accept": "application/json"},
        )
        if resp.meta.status >= 300 or not isinstance(resp.body, dict):
            return len(events)
        return sum(1 for item in resp.body.get("items", []) if item.get("create", {}).get("status", 500) >= 300)

    def _action(self, event: SearchEvent) -> tuple[dict[str, Any], dict[str, Any]]:
        """The bulk action and document of one event, in its month's index."""
        name = index_name(self.prefix, event.at)
        doc = {
            "query": event.query,
            "total": event.total,
            "took_ms": event.took_ms,
            "zero": found_nothing(event.total, event.timed_out),
            "at": format_rfc3339(event.at),
            **({"key": event.key} if event.key is not None else {}),
        }
        return {"create": {"_index": name}}, doc

    def _ensure(self, name: str) -> None:
        """Create the month's index with its mappings once (a cluster may forbid auto-creation).

        At most one attempt per batch; after a refusal (a key without ``create_index``, the cluster's
        shard limit) none before a back-off doubling from 5 s to 5 min: the batch's events are then
        refused by ``_bulk`` and counted as lost, instead of each costing a ``PUT``.
        """
        if name in self._created:
            return
        retry_at, backoff = self._refused.get(name, (0.0, 0.0))
        if self.clock() < retry_at:
            return
        resp = self.transport.perform_request(
            "PUT",
            f"/{name}",
            body={"settings": SETTINGS, "mappings": MAPPINGS},
            headers={"content-type": "application/json", "accept": "application/json"},
        )
        body = resp.body if isinstance(resp.body, dict) else {}
        exists = resp.meta.status == 400 and "already_exists" in str(body.get("error", {}).get("type", ""))
        if resp.meta.status < 300 or exists:
            self._created.add(name)
            self._refused.pop(name, None)
        else:
            backoff = min(max(2 * backoff, _FIRST_BACKOFF_S), _MAX_BACKOFF_S)
            self._refused[name] = (self.clock() + backoff, backoff)
            log.warning("analytics index not created", extra={"index": name, "status": resp.meta.status})


def start_recorder(
    transport: Transport, prefix: str, *, capacity: int, batch: int, flush_s: float, on_lost: Callable[[str, int], None]
) -> Recorder:
    """A recorder writing into ``<prefix>-<YYYY.MM>``, drained when the process exits."""
    recorder = Recorder(BulkSender(transport, prefix), capacity=capacity, batch=batch, flush_s=flush_s, on_lost=on_lost)
    atexit.register(recorder.close)
    return recorder
