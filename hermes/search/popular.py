"""Query suggestions from what people search (``HERMES_SUGGEST_QUERIES=true``; docs/relevance.md).

``/suggest`` completes what the user typed with popular past queries, read from the search analytics
(``<ES_INDEX>.hermes-analytics-*``, written when ``HERMES_ANALYTICS=true``): queries as analytics stores
them (normalised), over the last ``HERMES_SUGGEST_WINDOW``, only searches that found something, and only a
query searched by at least ``HERMES_SUGGEST_MIN_COUNT`` callers, so one person's typing never shows up for
others. Callers are search keys (their ``sub``) when keys are on: the count is of distinct keys, and
searches by a key without a ``sub`` do not count. Without keys analytics records no caller, so the count
is of searches (occurrences): one person searching the same thing that many times would reach it.

The list is one aggregation over the analytics indices, kept ``HERMES_SUGGEST_REFRESH_S`` seconds per
instance; completing a prefix is then a lookup in memory (:class:`Popular`). A key with a ``filter`` (a
tenant) gets no query suggestions: analytics does not record whose documents a query was run over.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hermes.client import ElasticsearchStatusError
from hermes.search.analytics import normalise
from hermes.search.reader import Reader

log = logging.getLogger(__name__)
MAX_POPULAR = 10_000  # the most popular queries kept in memory


@dataclass(frozen=True)
class Popular:
    """Popular queries, sorted for prefix lookups, with their counts."""

    queries: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()

    @staticmethod
    def of(counted: dict[str, int]) -> Popular:
        names = tuple(sorted(counted))
        return Popular(names, tuple(counted[n] for n in names))

    def complete(self, typed: str, size: int) -> list[str]:
        """The most popular queries starting with ``typed`` (normalised; a trailing space kept), best first."""
        prefix = normalise(typed) + (" " if typed[-1:].isspace() else "")
        if not prefix.strip():
            return []
        lo = bisect.bisect_left(self.queries, prefix)
        hi = bisect.bisect_left(self.queries, prefix + "\U0010ffff")
        best = heapq.nsmallest(size, range(lo, hi), key=lambda i: (-self.counts[i], self.queries[i]))
        return [self.queries[i] for i in best]


NONE = Popular()


def aggregation(window: str, min_count: int, *, by_key: bool) -> dict[str, Any]:
    """The ``_search`` body counting queries that found something (pure)."""
    terms: dict[str, Any] = {"field": "query", "size": MAX_POPULAR, "min_doc_count": min_count}
    agg: dict[str, Any] = {"terms": terms}
    if by_key:
        agg["aggs"] = {"callers": {"cardinality": {"field": "key"}}}
    return {
        "size": 0,
        "query": {
            "bool": {
                "filter": [{"range": {"at": {"gte": f"now-{window}"}}}, {"range": {"total": {"gt": 0}}}],
                "must_not": [{"term": {"query": "*"}}],
            }
        },
        "aggs": {"queries": agg},
    }


def counted(found: dict[str, Any], min_count: int, *, by_key: bool) -> dict[str, int]:
    """Each query's count (distinct keys, or searches) from the aggregation's answer, kept when ≥ min_count."""
    buckets = found.get("aggregations", {}).get("queries", {}).get("buckets", [])
    out: dict[str, int] = {}
    for bucket in buckets:
        count = int(bucket["callers"]["value"]) if by_key else int(bucket["doc_count"])
        if count >= min_count:
            out[str(bucket["key"])] = count
    return out


class PopularQueries:
    """The popular queries of one analytics prefix, read again after ``refresh_s`` seconds."""

    def __init__(
        self,
        refresh_s: float,
        window: str,
        min_count: int,
        *,
        by_key: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.refresh_s, self.window, self.min_count, self.by_key, self.clock = (
            refresh_s,
            window,
            min_count,
            by_key,
            clock,
        )
        self._entry: tuple[float, Popular] | None = None

    def get(self, reader: Reader, prefix: str) -> Popular:
        entry = self._entry
        now = self.clock()
        if entry is not None and now - entry[0] < self.refresh_s:
            return entry[1]
        body = aggregation(self.window, self.min_count, by_key=self.by_key)
        try:
            found = reader.search(f"{prefix}-*", body)
        except ElasticsearchStatusError as exc:  # no privilege to read analytics, a broken index
            log.warning("search analytics unreadable: no query suggestions", extra={"status": exc.status})
            popular = entry[1] if entry is not None else NONE
        else:
            popular = Popular.of(counted(found, self.min_count, by_key=self.by_key))
        self._entry = (now, popular)
        return popular
