"""What the resilience scenarios share: a steady search load, CloudEvents over HTTP, index snapshots."""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any

import requests

from hermes.load import indices
from tests.support.datasource import record
from tests.support.settings import environ

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

# `make resilience` sets HERMES_RESILIENCE=full: bigger corpora, more loads, more cases, the cluster.
FULL = os.environ.get("HERMES_RESILIENCE") == "full"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = ("harbour", "lighthouse", "mountain", "river", "market", "garden", "bridge", "castle")


def pick(fast: int, full: int) -> int:
    """The figure for this run: ``fast`` in `make test`, ``full`` in `make resilience`."""
    return full if FULL else fast


def corpus(n: int, *, minutes: int = 0, title: str = "Report") -> list[dict[str, Any]]:
    """``n`` valid records; every one holds a word of :data:`WORDS`, so every search of one finds hits."""
    when = T0 + timedelta(minutes=minutes)
    return [
        record(
            f"r-{i:06d}",
            when,
            title=f"{title} {i} on the {WORDS[i % len(WORDS)]}",
            content=f"Notes about the {WORDS[(i + 3) % len(WORDS)]} and more.",
        )
        for i in range(n)
    ]


def env_of(es_url: str, alias: str, source_url: str | None = None, **extra: str) -> dict[str, str]:
    """A function's whole environment (every setting, :func:`tests.support.settings.environ`)."""
    return environ(ES_URL=es_url, ES_INDEX=alias, DATA_SOURCE_URL=source_url or None, **extra)


def post_event(
    url: str,
    kind: str,
    data: bytes = b"{}",
    *,
    source: str = "resilience",
    timeout: float = 300,
    event_id: str | None = None,
) -> requests.Response:
    """POST a binary-mode CloudEvent with a fresh id (or ``event_id``: a redelivery), as a Broker or
    `make full-load` does."""
    headers = {
        "Ce-Specversion": "1.0",
        "Ce-Type": kind,
        "Ce-Source": source,
        "Ce-Id": event_id or uuid.uuid4().hex,
        "Content-Type": "application/json",
    }
    return requests.post(url, data=data, headers=headers, timeout=timeout)


FULL_EVENT = "dev.hermes.load.full"
DELTA_EVENT = "dev.hermes.load.delta"


@dataclass(frozen=True)
class Answer:
    """One search as the client saw it."""

    sent: float  # time.monotonic() when sent
    latency_s: float
    status: int  # 0: no HTTP answer at all (connection refused, timeout)
    hits: int
    retry_after: str | None
    error_type: str | None


@dataclass
class SteadySearches:
    """Searches at a steady rate, every answer recorded: open-loop, like users, who do not wait for each other.

    ``senders`` threads each send at ``rate_per_s / senders``, staggered, so a slow answer delays only its
    own sender's next search: the rate holds while latency stays under ``senders / rate_per_s``.
    """

    url: str
    rate_per_s: float = 20.0
    senders: int = 4
    timeout_s: float = 10.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> SteadySearches:
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"steady-searches-{i}", daemon=True)
            for i in range(self.senders)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 5)
        self.answers.sort(key=lambda a: a.sent)

    def _run(self, sender: int) -> None:
        session = requests.Session()
        period = self.senders / self.rate_per_s
        next_at = time.monotonic() + sender * period / self.senders
        i = sender
        self._stop.wait(max(0.0, next_at - time.monotonic()))
        while not self._stop.is_set():
            self.answers.append(self._one(session, WORDS[i % len(WORDS)]))  # list.append is atomic
            i += self.senders
            next_at += period
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _one(self, session: requests.Session, word: str) -> Answer:
        sent = time.monotonic()
        try:
            resp = session.get(f"{self.url}/search", params={"q": word}, timeout=self.timeout_s)
        except requests.RequestException:
            session.close()
            return Answer(sent, time.monotonic() - sent, 0, 0, None, None)
        latency = time.monotonic() - sent
        try:
            body = resp.json()
        except ValueError:
            body = {}
        hits = len(body.get("hits", [])) if resp.status_code == 200 else 0
        error = body.get("error", {}).get("type") if resp.status_code != 200 else None
        return Answer(sent, latency, resp.status_code, hits, resp.headers.get("Retry-After"), error)

    def between(self, start: float, end: float = float("inf")) -> list[Answer]:
        return [a for a in self.answers if start <= a.sent < end]


def summary(answers: list[Answer]) -> str:
    """``1,234 searches: 1,234 x 200 (0 empty), median 12 ms, max 80 ms``."""
    if not answers:
        return "no searches"
    by_status: dict[str, int] = {}
    for a in answers:
        key = f"{a.status or 'no answer'}" + (f" `{a.error_type}`" if a.error_type else "")
        by_status[key] = by_status.get(key, 0) + 1
    statuses = ", ".join(f"{n:,} x {key}" for key, n in sorted(by_status.items()))
    empty = sum(1 for a in answers if a.status == 200 and a.hits == 0)
    lat = [a.latency_s * 1000 for a in answers]
    return f"{len(answers):,} searches: {statuses} ({empty} empty); median {median(lat):.0f} ms, max {max(lat):.0f} ms"


def documents(client: Elasticsearch, index: str, query: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Documents of ``index`` (or alias) by id, with their ``_version``: what a record-by-record check reads."""
    from elasticsearch.helpers import scan

    return {
        hit["_id"]: {**hit["_source"], "_version": hit.get("_version")}
        for hit in scan(client, index=index, query={"query": query or {"match_all": {}}, "version": True})
    }


def managed(client: Elasticsearch, alias: str) -> list[str]:
    """Every ``<alias>-<stamp>`` index, served or not."""
    return sorted(indices.managed_indices(client, alias))


served = indices.indices_behind  # the indices the alias points to now
