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

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # it waits seconds on Elasticsearch by design

# A bucket and a top hit for each of 40,000 distinct values: seconds of work without any script (the test
# distribution has no painless).
_SLOW_BODY: dict[str, Any] = {
    "size": 0,
    "aggs": {"each": {"terms": {"field": "k", "size": 40_000}, "aggs": {"top": {"top_hits": {"size": 1}}}}},
}


def _search_tasks(es: Any, index: str) -> list[str]:
    # The task management API, read plainly (the client marks its `tasks.list` a technical preview).
    params = {"actions": "indices:data/read/search", "detailed": "true"}
    nodes = es.perform_request("GET", "/_tasks", params=params, headers={"accept": "application/json"})["nodes"]
    return [t["description"] for n in nodes.values() for t in n["tasks"].values() if index in t["description"]]


def test_a_search_the_function_gave_up_on_is_cancelled(es: Any, make_settings: Any) -> None:
    settings = make_settings(HERMES_ES_TIMEOUT_S=0.5, HERMES_ES_MAX_RETRIES=0)
    index = settings.es_index + "-spin"
    es.indices.create(
        index=index,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings={"properties": {"k": {"type": "keyword"}}},
    )
    ops = [op for i in range(40_000) for op in ({"index": {"_index": index}}, {"k": f"k{i}"})]
    es.options(request_timeout=120).bulk(operations=ops, refresh=True)
    try:
        started = time.monotonic()
        with pytest.raises(Exception) as caught:
            Reader(build_transport(settings)).search(index, _SLOW_BODY)
        assert isinstance(translate(caught.value), UpstreamTimeoutError)  # what the caller gets: a 504
        # Uncancelled, the search would run for seconds more; it disappears.
        deadline = started + 60
        while (tasks := _search_tasks(es, index)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tasks == []
        gone_after = time.monotonic() - started
        full = time.monotonic()
        es.options(request_timeout=120).search(index=index, body=_SLOW_BODY)  # its cost when nobody gives up
        assert time.monotonic() - full > 2 * gone_after  # so the task was cancelled, not finished
    finally:
        es.indices.delete(index=index)
