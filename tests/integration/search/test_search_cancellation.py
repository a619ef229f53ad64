"""When the search function gives up on Elasticsearch, Elasticsearch stops working on the search too.

The transport closes the connection of a request that timed out, and Elasticsearch cancels a search whose
HTTP channel closed. Shown with ``_tasks``: the search task is gone long before it would have finished.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from hermes.client import build_transport, translate
from hermes.errors import UpstreamTimeoutError
from hermes.search.reader import Reader

pytestmark = pytest.mark.integration

# Painless stops a loop at 1,000,000 iterations; this one spins ~0.5 ms per document it scores.
_SPIN = "double s = 0; for (int i = 0; i < 300000; ++i) { s += i; } return s;"
_SLOW_BODY: dict[str, Any] = {
    "query": {"script_score": {"query": {"match_all": {}}, "script": {"source": _SPIN}}},
    "size": 1,
}


def _search_tasks(es: Any, index: str) -> list[str]:
    nodes = es.tasks.list(actions="indices:data/read/search", detailed=True)["nodes"]
    return [t["description"] for n in nodes.values() for t in n["tasks"].values() if index in t["description"]]


def test_a_search_the_function_gave_up_on_is_cancelled(es: Any, make_settings: Any) -> None:
    settings = make_settings(HERMES_ES_TIMEOUT_S=0.5, HERMES_ES_MAX_RETRIES=0)
    index = settings.es_index + "-spin"
    es.indices.create(index=index, settings={"number_of_shards": 1, "number_of_replicas": 0})
    es.bulk(operations=[op for i in range(20_000) for op in ({"index": {"_index": index}}, {"n": i})], refresh=True)
    try:
        started = time.monotonic()
        with pytest.raises(Exception) as caught:
            Reader(build_transport(settings)).search(index, _SLOW_BODY)
        assert isinstance(translate(caught.value), UpstreamTimeoutError)  # what the caller gets: a 504
        # Uncancelled, the search would run for seconds more (20,000 documents x ~0.5 ms); it disappears.
        deadline = started + 60
        while (tasks := _search_tasks(es, index)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tasks == []
        gone_after = time.monotonic() - started
        full = time.monotonic()
        es.search(index=index, body=_SLOW_BODY, request_timeout=120)  # what it costs when nobody gives up
        assert time.monotonic() - full > 2 * gone_after  # so the task was cancelled, not finished
    finally:
        es.indices.delete(index=index)
