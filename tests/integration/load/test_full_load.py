"""Full loads against the real Elasticsearch and a real HTTP data source."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hermes.client import build_client
from hermes.errors import ErrorBudgetExceededError, LoadInProgressError, SourceError, VerificationError
from hermes.load import indices
from hermes.load.full import EventKey, full_load
from hermes.load.lock import LOCK_ID, LoadLock
from hermes.load.state import State
from hermes.operator.loads import rollback
from hermes.settings import Settings
from tests.support.datasource import SourceBehaviour, record

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _records(n: int, prefix: str = "r") -> list[dict[str, Any]]:
    return [record(f"{prefix}{i}", T0 + timedelta(minutes=i), tags=["t"]) for i in range(n)]


@pytest.fixture
def settings(make_settings: Any, source: tuple[str, SourceBehaviour]) -> Settings:
    return make_settings(DATA_SOURCE_URL=source[0], HERMES_PRUNE_GRACE_S=0, HERMES_SOURCE_RETRIES=1)  # type: ignore[no-any-return]


def _count(es: Any, alias: str) -> int:
    return int(es.count(index=alias, query={"term": {"deleted": False}})["count"])


@pytest.mark.parametrize("fmt", ["array", "ndjson", "pages"])
def test_full_load_from_each_body_format(es: Any, settings: Settings, source: Any, fmt: str) -> None:
    _, state = source
    state.fmt = fmt
    state.page_size = 7
    state.put(*_records(25))
    report = full_load(build_client(settings), settings)
    assert report["status"] == "completed"
    assert (report["indexed"], report["skipped"], report["failed"]) == (25, 0, 0)
    assert report["previous_index"] is None
    assert indices.indices_behind(es, settings.es_index) == [report["index"]]
    assert _count(es, settings.es_index) == 25
    assert State(es, settings.state_index).watermark() == T0 + timedelta(minutes=24)


def test_alias_moves_previous_kept_older_pruned(es: Any, settings: Settings, source: Any) -> None:
    source[1].put(*_records(5))
    reports = [full_load(build_client(settings), settings) for _ in range(3)]
    assert reports[1]["previous_index"] == reports[0]["index"]
    assert reports[2]["previous_index"] == reports[1]["index"]
    assert reports[2]["pruned"] == [reports[0]["index"]]
    assert set(indices.managed_indices(es, settings.es_index)) == {reports[1]["index"], reports[2]["index"]}
    assert indices.indices_behind(es, settings.es_index) == [reports[2]["index"]]


@pytest.mark.slow  # a scenario: searches in a loop through several reloads
def test_searches_during_reloads_never_fail_nor_see_nothing(es: Any, settings: Settings, source: Any) -> None:
    source[1].put(*_records(300))
    full_load(build_client(settings), settings)
    stop = threading.Event()
    totals: list[int] = []
    errors: list[BaseException] = []

    def searcher() -> None:
        while not stop.is_set():
            try:
                totals.append(
                    es.search(index=settings.es_index, query={"match_all": {}}, size=0)["hits"]["total"]["value"]
                )
            except Exception as exc:
                errors.append(exc)

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        for _ in range(3):
            full_load(build_client(settings), settings)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert len(totals) > 10
    assert min(totals) == 300


def _assert_unchanged(es: Any, settings: Settings, served: str) -> None:
    assert indices.indices_behind(es, settings.es_index) == [served]
    assert set(indices.managed_indices(es, settings.es_index)) == {served}  # no orphan
    assert _count(es, settings.es_index) == 20
    assert LoadLock(es, settings.state_index, 60).current() is None


@pytest.mark.parametrize("failure", ["dies_mid_stream", "invalid_json", "too_few", "down"])
def test_failed_load_leaves_alias_and_index_untouched(es: Any, settings: Settings, source: Any, failure: str) -> None:
    _, state = source
    state.put(*_records(20))
    served = full_load(build_client(settings), settings)["index"]
    watermark = State(es, settings.state_index).watermark()
    if failure == "dies_mid_stream":
        state.die_after = 5
    elif failure == "invalid_json":
        state.garbage = True
    elif failure == "down":
        state.status = 500
    else:
        state.records = {r["id"]: r for r in _records(5)}
    expected = VerificationError if failure == "too_few" else SourceError
    with pytest.raises(expected):
        full_load(build_client(settings), settings)
    _assert_unchanged(es, settings, served)
    assert State(es, settings.state_index).watermark() == watermark


def test_too_few_records_swap_when_forced(es: Any, settings: Settings, source: Any) -> None:
    source[1].put(*_records(20))
    full_load(build_client(settings), settings)
    source[1].records = {r["id"]: r for r in _records(3)}
    report = full_load(build_client(settings), settings, force=True)
    assert report["indexed"] == 3
    assert _count(es, settings.es_index) == 3


def test_invalid_records_are_skipped_counted_and_dead_lettered(es: Any, settings: Settings, source: Any) -> None:
    _, state = source
    state.put(*_records(10))
    state.extra = [{"id": "bad-date", "updated_at": "yesterday"}, {"title": "no id"}, 42]
    report = full_load(build_client(settings), settings)
    assert (report["indexed"], report["skipped"], report["failed"]) == (10, 3, 0)
    total, letters = State(es, settings.state_index).dead_letters()
    assert total == 3
    assert {d["record_id"] for d in letters} == {"bad-date", None}
    assert any("updated_at" in d["reason"] for d in letters)


def test_error_budget_fails_the_load_and_changes_nothing(es: Any, make_settings: Any, source: Any) -> None:
    url, state = source
    state.put(*_records(20))
    settings = make_settings(DATA_SOURCE_URL=url, HERMES_MAX_FAILURES=2)
    served = full_load(build_client(settings), settings)["index"]
    state.extra = [{"id": f"bad{i}"} for i in range(3)]
    with pytest.raises(ErrorBudgetExceededError, match="error budget"):
        full_load(build_client(settings), settings)
    _assert_unchanged(es, settings, served)


def test_concurrent_loads_one_conflicts(es: Any, settings: Settings, source: Any) -> None:
    _, state = source
    state.put(*_records(5))
    state.hold()  # the first load waits in its source read, holding the lock
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(full_load, build_client(settings), settings)
        assert state.arrived.wait(30)
        with pytest.raises(LoadInProgressError):
            full_load(build_client(settings), settings)
        state.release()
        assert first.result()["status"] == "completed"


def test_redelivered_event_is_a_duplicate_and_changes_nothing(es: Any, settings: Settings, source: Any) -> None:
    source[1].put(*_records(5))
    key = EventKey("curl", "evt-1")
    first = full_load(build_client(settings), settings, event=key)
    source[1].put(*_records(8))
    again = full_load(build_client(settings), settings, event=key)
    assert again["status"] == "duplicate"
    assert again["index"] == first["index"]
    assert indices.indices_behind(es, settings.es_index) == [first["index"]]
    assert _count(es, settings.es_index) == 5


def test_rollback_restores_the_previous_index(es: Any, settings: Settings, source: Any) -> None:
    source[1].put(*_records(5))
    first = full_load(build_client(settings), settings)
    source[1].put(*_records(9))
    second = full_load(build_client(settings), settings)
    result = rollback(build_client(settings), settings)
    assert (result["index"], result["previous_index"]) == (first["index"], second["index"])
    assert indices.indices_behind(es, settings.es_index) == [first["index"]]
    assert _count(es, settings.es_index) == 5
    # The watermark goes back with the index, so the next delta re-applies what came after.
    assert State(es, settings.state_index).watermark() == T0 + timedelta(minutes=4)


def test_stale_lock_of_a_crashed_run_expires(es: Any, settings: Settings, source: Any) -> None:
    source[1].put(*_records(3))
    state = State(es, settings.state_index)
    state.ensure()
    es.index(
        index=state.index,
        id=LOCK_ID,
        refresh=True,
        document={"kind": "full_load", "owner": "crashed", "expires_at": "2020-01-01T00:00:00Z"},
    )
    assert full_load(build_client(settings), settings)["status"] == "completed"
    # A live lock is respected.
    es.index(
        index=state.index,
        id=LOCK_ID,
        refresh=True,
        document={"kind": "full_load", "owner": "alive", "expires_at": "2999-01-01T00:00:00Z"},
    )
    with pytest.raises(LoadInProgressError):
        full_load(build_client(settings), settings)


@pytest.mark.parametrize("fmt", ["array", "pages"])
def test_edge_values_rfc_allows_load_or_fail_alone(es: Any, settings: Settings, source: Any, fmt: str) -> None:
    # RFC 3339 allows offsets to ±23:59 (Elasticsearch stops at ±18:00) and RFC 8259 any integer size
    # (yajl and Elasticsearch's long stop at 64 bits): the first load, the second fails alone as invalid.
    _, state = source
    state.fmt = fmt
    state.page_size = 2
    state.put(*_records(3))
    state.extra = [
        {"id": "far-west", "updated_at": "2026-01-02T00:00:00-23:59"},
        {"id": "far-east", "updated_at": "2026-01-02T00:00:00+23:59", "created_at": "2026-01-01T00:00:00+18:30"},
        {"id": "wide", "updated_at": "2026-01-02T00:00:00Z", "n": 9223372036854775808},
    ]
    report = full_load(build_client(settings), settings)
    assert (report["status"], report["indexed"], report["skipped"], report["failed"]) == ("completed", 5, 1, 0)
    stored = es.get(index=settings.es_index, id="far-west")["_source"]
    assert stored["updated_at"] == "2026-01-02T23:59:00.000000Z"
    _, letters = State(es, settings.state_index).dead_letters()
    assert [d["record_id"] for d in letters] == ["wide"]
