"""The sink's accounting rules, pinned with canned bulk answers.

Like elasticsearch-py's own helper tests (test_elasticsearch/test_helpers.py patches
``Elasticsearch.bulk``), the real ``helpers.streaming_bulk`` runs against a client whose
``bulk`` returns scripted per-item answers; no server is involved. These are unit tests of
the watermark and dead-letter rules; the loads themselves are tested against a real
Elasticsearch in tests/integration.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

import orjson
import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig, ObjectApiResponse
from elasticsearch import Elasticsearch

from hermes.errors import ErrorBudgetExceededError, UnavailableError
from hermes.load import shard_retries
from hermes.load.records import Operation, Rejected, version_of
from hermes.load.sink import Outcome, Sink
from hermes.settings import Settings

T0 = datetime(2026, 3, 1, tzinfo=UTC)
_ERRORS = {
    429: {"type": "es_rejected_execution_exception", "reason": "queue full"},
    500: {"type": "illegal_state_exception", "reason": "something broke"},
    503: {"type": "unavailable_shards_exception", "reason": "primary shard is not active"},
    400: {"type": "document_parsing_exception", "reason": "failed to parse field [tags]"},
    409: {"type": "version_conflict_engine_exception", "reason": "current version is higher"},
    404: {
        "type": "index_not_found_exception",
        "reason": "no such index [i] and [require_alias] request flag is [true]",
    },
}


def op(rid: str, minute: int, *, deleted: bool = False) -> Operation:
    when = T0 + timedelta(minutes=minute)
    doc = {"id": rid, "updated_at": when.isoformat(), "deleted": deleted}
    return Operation(rid, version_of(when), when, doc)


class CannedBulk:
    """Answers each bulk item with the next status scripted for its id (201 when none is left)."""

    def __init__(self, script: dict[str, list[int]]) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.requests = 0
        self.sent: list[tuple[str, int]] = []
        self.kwargs: dict[str, Any] = {}

    def __call__(self, *, operations: list[bytes], **kwargs: Any) -> ObjectApiResponse[Any]:
        self.requests += 1
        self.kwargs = kwargs
        lines = [orjson.loads(line) for line in operations]
        self.sent += [(action["index"]["_id"], action["index"]["version"]) for action in lines[::2]]
        items = [self._item(action["index"]["_id"]) for action in lines[::2]]
        body = {"took": 1, "errors": any("error" in i["index"] for i in items), "items": items}
        meta = ApiResponseMeta(200, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "127.0.0.1", 9))
        return ObjectApiResponse(body=body, meta=meta)

    def _item(self, doc_id: str) -> dict[str, Any]:
        queue = self.script.get(doc_id, [])
        status = queue.pop(0) if queue else 201
        item: dict[str, Any] = {"_index": "i", "_id": doc_id, "status": status}
        if status < 300:
            item["result"] = "created"
        else:
            item["error"] = _ERRORS[status]
        return {"index": item}


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """streaming_bulk sleeps between 429 retries; the rules do not depend on the wait."""
    from elasticsearch.helpers import actions

    monkeypatch.setattr(actions.time, "sleep", lambda _s: None)


def write(items: list[Operation | Rejected], script: dict[str, list[int]], **env: Any) -> tuple[Outcome, CannedBulk]:
    settings = Settings(HERMES_BULK_WORKERS=1, HERMES_BULK_CHUNK_DOCS=100, **env)  # type: ignore[call-arg]
    canned = CannedBulk(script)
    client = Elasticsearch("http://127.0.0.1:9")
    with mock.patch.object(Elasticsearch, "bulk", canned):
        outcome = Sink(client, "i", settings).write(iter(items))
    return outcome, canned


def test_successes_move_the_watermark_to_the_newest() -> None:
    outcome, _ = write([op("a", 1), op("b", 3), op("c", 2, deleted=True)], {})
    assert (outcome.created, outcome.indexed, outcome.deleted, outcome.failed) == (3, 2, 1, 0)
    assert outcome.newest_done == T0 + timedelta(minutes=3)
    assert outcome.oldest_failed is None


def test_version_conflict_is_stale_and_done() -> None:
    outcome, _ = write([op("a", 1), op("b", 5)], {"b": [409]})
    assert (outcome.stale, outcome.skipped, outcome.failed) == (1, 1, 0)
    assert outcome.newest_done == T0 + timedelta(minutes=5)
    assert outcome.dead_letters == []


@pytest.mark.parametrize("status", [429, 500])
def test_transient_failure_holds_the_watermark(status: int) -> None:
    # 429 is retried by streaming_bulk (9 attempts in all) before it counts as failed.
    outcome, canned = write([op("a", 1), op("b", 2), op("c", 9)], {"b": [status] * 9})
    assert outcome.failed == 1
    assert outcome.oldest_failed == T0 + timedelta(minutes=2)
    assert outcome.newest_done == T0 + timedelta(minutes=9)
    assert outcome.dead_letters == []
    assert canned.requests == (9 if status == 429 else 1)


def test_429_that_clears_on_retry_is_a_success() -> None:
    outcome, canned = write([op("a", 1), op("b", 2)], {"b": [429, 429]})
    assert (outcome.failed, outcome.indexed) == (0, 2)
    assert outcome.oldest_failed is None
    assert canned.requests == 3


def test_permanent_failure_is_dead_lettered_and_releases_the_watermark() -> None:
    outcome, _ = write([op("a", 1), op("bad", 7)], {"bad": [400]})
    assert outcome.failed == 1
    assert outcome.oldest_failed is None
    assert outcome.newest_done == T0 + timedelta(minutes=7)
    assert [(r.id, r.reason.split(":")[0]) for r in outcome.dead_letters] == [("bad", "document_parsing_exception")]


def test_one_id_twice_in_flight_holds_at_the_older_copy() -> None:
    # The newer copy comes first and fails; the bulk answer cannot say which copy it was.
    outcome, _ = write([op("a", 8), op("a", 4)], {"a": [500, 201]})
    assert outcome.failed == 1
    assert outcome.oldest_failed == T0 + timedelta(minutes=4)


def test_one_id_twice_when_the_last_copy_fails() -> None:
    outcome, _ = write([op("a", 4), op("a", 8)], {"a": [201, 500]})
    assert outcome.oldest_failed == T0 + timedelta(minutes=8)
    assert outcome.newest_done == T0 + timedelta(minutes=4)


def test_an_item_without_an_active_primary_is_sent_again_until_its_shard_is_back() -> None:
    # 503 unavailable_shards_exception: the node holding the primary left (it comes back with its disk).
    outcome, canned = write([op("a", 1), op("b", 2), op("c", 9)], {"b": [503, 503, 503]})
    assert (outcome.failed, outcome.indexed, outcome.created) == (0, 3, 3)
    assert outcome.oldest_failed is None
    assert canned.sent.count(("b", version_of(T0 + timedelta(minutes=2)))) == 4
    assert canned.requests == 4


def test_a_shard_missing_longer_than_the_wait_fails_its_items(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    monkeypatch.setattr(shard_retries, "time", SimpleNamespace(monotonic=lambda: clock[0], sleep=sleep))
    outcome, canned = write([op("a", 1), op("b", 2)], {"b": [503] * 100}, HERMES_SHARD_WAIT_S=30)
    assert (outcome.failed, outcome.indexed) == (1, 1)
    assert outcome.oldest_failed == T0 + timedelta(minutes=2)
    # Sent at 0 s, then after back-offs of 1, 2, 4, 8, 10 and 10 s (35 s > 30 s: it fails).
    assert canned.requests == 7
    assert clock[0] == 35


def test_the_newest_copy_is_sent_again_when_one_id_in_flight_twice_is_refused() -> None:
    outcome, canned = write([op("a", 8), op("a", 4)], {"a": [503]})
    assert canned.sent[-1] == ("a", version_of(T0 + timedelta(minutes=8)))
    assert outcome.failed == 0
    assert outcome.indexed == 2
    assert outcome.newest_done == T0 + timedelta(minutes=8)


def test_a_bulk_holds_an_item_for_a_missing_primary_less_long_than_the_client_waits() -> None:
    _, canned = write([op("a", 1)], {}, HERMES_ES_BULK_TIMEOUT_S=60)
    assert canned.kwargs["timeout"] == "30000ms"


def test_rejected_records_count_as_invalid_dead_letters() -> None:
    outcome, _ = write([Rejected("x", "updated_at: missing"), op("a", 1)], {})
    assert (outcome.invalid, outcome.indexed, outcome.skipped) == (1, 1, 1)
    assert outcome.dead_letters == [Rejected("x", "updated_at: missing")]
    assert outcome.newest_done == T0 + timedelta(minutes=1)


def test_error_budget_stops_the_run() -> None:
    items: list[Operation | Rejected] = [op(f"d{n}", n) for n in range(5)]
    with pytest.raises(ErrorBudgetExceededError, match="3 consecutive failures"):
        write(items, {f"d{n}": [400] for n in range(5)}, HERMES_MAX_CONSECUTIVE_FAILURES=2)


def _many(n: int) -> Iterator[Operation | Rejected]:
    for i in range(n):
        yield op(f"m{i}", i % 50)


def test_parallel_workers_account_every_item_once() -> None:
    settings = Settings(HERMES_BULK_WORKERS=4, HERMES_BULK_CHUNK_DOCS=7)  # type: ignore[call-arg]
    canned = CannedBulk({"m13": [500], "m21": [409], "m34": [503, 503]})
    with mock.patch.object(Elasticsearch, "bulk", canned):
        outcome = Sink(Elasticsearch("http://127.0.0.1:9"), "i", settings).write(_many(500))
    assert outcome.indexed + outcome.stale + outcome.failed == 500
    assert (outcome.failed, outcome.stale) == (1, 1)
    assert outcome.oldest_failed == T0 + timedelta(minutes=13)
    assert [doc_id for doc_id, _ in canned.sent].count("m34") == 3  # refused twice for want of a primary


def test_writes_go_through_an_alias_and_a_vanished_one_stops_the_load() -> None:
    canned = CannedBulk({"b": [404]})
    seen: list[dict[str, Any]] = []

    def record_kwargs(_client: Any, **kwargs: Any) -> ObjectApiResponse[Any]:
        seen.append(kwargs)
        return canned(**kwargs)

    settings = Settings(HERMES_BULK_WORKERS=1)  # type: ignore[call-arg]
    with mock.patch.object(Elasticsearch, "bulk", record_kwargs), pytest.raises(UnavailableError, match="no longer"):
        Sink(Elasticsearch("http://127.0.0.1:9"), "i", settings).write(iter([op("a", 1), op("b", 2)]))
    assert seen[0]["require_alias"] is True  # Elasticsearch refuses instead of auto-creating the index
