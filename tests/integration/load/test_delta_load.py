"""Delta loads: watermark, deletes, replays, overlap, crashes, deferral — real ES, real HTTP source."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hermes.client import build_client
from hermes.errors import NoFullLoadError, SourceError
from hermes.load.delta import delta_load
from hermes.load.full import full_load
from hermes.load.lock import LoadLock
from hermes.load.state import State
from hermes.operator.loads import status
from hermes.settings import Settings
from tests.support.datasource import SourceBehaviour, record, serve
from tests.support.process import eventually

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def source() -> Iterator[tuple[str, SourceBehaviour]]:
    with serve(SourceBehaviour(fmt="pages", page_size=4)) as served:
        yield served


@pytest.fixture
def settings(make_settings: Any, source: tuple[str, SourceBehaviour]) -> Settings:
    return make_settings(DATA_SOURCE_URL=source[0], HERMES_SOURCE_RETRIES=1)  # type: ignore[no-any-return]


@pytest.fixture
def loaded(settings: Settings, source: tuple[str, SourceBehaviour]) -> Settings:
    source[1].put(*[record(f"r{i}", at(i)) for i in range(10)])
    full_load(build_client(settings), settings)
    return settings


def _served(es: Any, alias: str) -> dict[str, dict[str, Any]]:
    hits = es.search(index=alias, query={"term": {"deleted": False}}, size=1000, version=True)["hits"]["hits"]
    return {h["_id"]: {**h["_source"], "_version": h["_version"]} for h in hits}


def _versions(es: Any, alias: str) -> dict[str, int]:
    hits = es.search(index=alias, query={"match_all": {}}, size=1000, version=True)["hits"]["hits"]
    return {h["_id"]: h["_version"] for h in hits}


def _delta(settings: Settings) -> dict[str, Any]:
    return delta_load(build_client(settings), settings)


def test_no_full_load_yet_is_a_failed_precondition(settings: Settings) -> None:
    with pytest.raises(NoFullLoadError):
        _delta(settings)


def test_one_tick_applies_updates_inserts_and_tombstones(es: Any, loaded: Settings, source: Any) -> None:
    state = source[1]
    state.put(
        record("r1", at(100), title="Updated title"),
        record("new", at(101)),
        {"id": "r2", "updated_at": at(102).isoformat(), "deleted": True},
    )
    report = _delta(loaded)
    assert report["status"] == "applied"
    assert (report["indexed"], report["deleted"]) == (2, 1)
    assert report["watermark"] == "2026-01-01T01:42:00.000000Z"
    served = _served(es, loaded.es_index)
    assert served["r1"]["title"] == "Updated title"
    assert "new" in served
    assert "r2" not in served
    assert es.get(index=loaded.es_index, id="r2")["_source"]["deleted"] is True


def test_the_same_tick_again_changes_no_version(es: Any, loaded: Settings, source: Any) -> None:
    source[1].put(record("r1", at(100)), {"id": "r3", "updated_at": at(101).isoformat(), "deleted": True})
    _delta(loaded)
    before = _versions(es, loaded.es_index)
    again = _delta(loaded)
    assert (again["indexed"], again["deleted"]) == (0, 0)
    assert again["skipped"] >= 2
    assert _versions(es, loaded.es_index) == before


def test_replay_from_an_earlier_watermark_goes_nowhere_backwards(es: Any, loaded: Settings, source: Any) -> None:
    source[1].put(record("r1", at(100), title="newest"))
    _delta(loaded)
    before = _versions(es, loaded.es_index)
    # An operator (or a bug) rewinds the watermark; the source even serves an older copy again.
    State(es, loaded.state_index).save_watermark(T0 - timedelta(days=1), "rewound")
    source[1].put(record("r1", at(50), title="older"))
    source[1].put(record("r1", at(100), title="newest"))
    report = _delta(loaded)
    assert report["indexed"] == 0
    assert _versions(es, loaded.es_index) == before
    assert _served(es, loaded.es_index)["r1"]["title"] == "newest"


def test_late_record_within_the_overlap_is_applied(es: Any, loaded: Settings, source: Any) -> None:
    source[1].put(record("r1", at(100)))
    mark = _delta(loaded)["watermark"]
    # Committed late: its updated_at is 2 minutes behind the watermark (overlap is 5).
    source[1].put(record("late", at(98)))
    report = _delta(loaded)
    assert report["indexed"] == 1
    assert "late" in _served(es, loaded.es_index)
    assert report["watermark"] == mark  # never moves backwards on success


def _until_deletes_are_forgotten(es: Any, index: str) -> None:
    """Delete a control document, then wait until Elasticsearch accepts an older version of it: from then
    on it has forgotten every earlier delete's version (index.gc_deletes has passed), as it would a minute
    after a delete with the default setting. Polls the server's own answer, never a wall clock."""
    es.index(
        index=index,
        id="gc-control",
        document={"id": "gc-control", "deleted": True},
        version=10,
        version_type="external",
        refresh=True,
    )
    es.delete(index=index, id="gc-control", refresh=True)

    def forgotten() -> bool:
        es.indices.refresh(index=index)  # pruning of deleted versions happens on refresh
        resp = es.options(ignore_status=409).index(
            index=index,
            id="gc-control",
            version=1,
            version_type="external",
            document={"id": "gc-control", "deleted": True},
        )
        return bool(resp.meta.status == 201)

    assert eventually(forgotten, wait_s=60)
    es.delete(index=index, id="gc-control", refresh=True)


def test_older_copy_of_a_deleted_record_never_resurrects(es: Any, loaded: Settings, source: Any) -> None:
    """Elasticsearch forgets a deleted document's version after index.gc_deletes (60 s by default); the
    tombstone-as-document design does not depend on it. The test index forgets at once (0 s) and a
    control document proves it did before the older copy arrives."""
    served_index = next(iter(es.indices.get_alias(name=loaded.es_index)))
    es.indices.put_settings(index=served_index, settings={"index.gc_deletes": "0s"})
    source[1].put({"id": "r4", "updated_at": at(200).isoformat(), "deleted": True})
    _delta(loaded)
    _until_deletes_are_forgotten(es, served_index)
    source[1].records["r4"] = record("r4", at(150), title="stale copy")
    State(es, loaded.state_index).save_watermark(at(140), "rewound")
    report = _delta(loaded)
    assert report["indexed"] == 0
    assert "r4" not in _served(es, loaded.es_index)


def test_crash_between_bulk_and_watermark_is_harmless(
    es: Any, loaded: Settings, source: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = State(es, loaded.state_index)
    mark = state.watermark()
    source[1].put(record("r1", at(100), title="v2"), record("new", at(101)))

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("process killed before the watermark was saved")

    monkeypatch.setattr(State, "save_watermark", crash)
    with pytest.raises(RuntimeError):
        _delta(loaded)
    monkeypatch.undo()
    assert state.watermark() == mark
    assert LoadLock(es, loaded.state_index, 60).current() is None
    report = _delta(loaded)  # re-reads the same changes; they are already there
    assert report["indexed"] == 0
    assert report["skipped"] >= 2  # the two changes, plus what the overlap re-reads
    assert _served(es, loaded.es_index)["r1"]["title"] == "v2"
    assert state.watermark() == at(101)


def test_source_down_keeps_the_watermark_and_next_tick_catches_up(es: Any, loaded: Settings, source: Any) -> None:
    state = State(es, loaded.state_index)
    mark = state.watermark()
    source[1].put(record("new", at(100)))
    source[1].status = 500
    with pytest.raises(SourceError):
        _delta(loaded)
    assert state.watermark() == mark
    source[1].status = 200
    assert _delta(loaded)["indexed"] == 1
    assert "new" in _served(es, loaded.es_index)


def test_delta_during_full_load_is_deferred_then_catches_up(es: Any, loaded: Settings, source: Any) -> None:
    src = source[1]
    src.hold()  # the rebuild waits in its source read, holding the lock
    rebuild = threading.Thread(target=full_load, args=(build_client(loaded), loaded))
    rebuild.start()
    assert src.arrived.wait(30)
    assert LoadLock(es, loaded.state_index, 60).current() is not None
    # Changes land at the source while the rebuild streams.
    src.put(
        record("r0", at(24 * 60), title="changed during rebuild"),
        record("born", at(24 * 60 + 1)),
        {"id": "r9", "updated_at": at(24 * 60 + 2).isoformat(), "deleted": True},
    )
    assert _delta(loaded)["status"] == "deferred"
    src.release()
    rebuild.join()
    assert _delta(loaded)["status"] == "applied"
    expected = {rid: r for rid, r in src.records.items() if not r.get("deleted")}
    served = _served(es, loaded.es_index)
    assert set(served) == set(expected)
    for rid, rec in expected.items():
        assert served[rid]["title"] == rec["title"]


def test_invalid_records_are_dead_lettered_and_do_not_hold_the_watermark(
    es: Any, loaded: Settings, source: Any
) -> None:
    source[1].put(record("r1", at(100)))
    source[1].extra = [{"id": "broken", "updated_at": "not a time"}]
    report = _delta(loaded)
    assert report["invalid"] == 1
    assert report["skipped"] >= 1
    assert report["watermark"] == "2026-01-01T01:40:00.000000Z"
    total, letters = State(es, loaded.state_index).dead_letters()
    assert total == 1
    assert letters[0]["record_id"] == "broken"


# --- through the function ----------------------------------------------------------------------


def _ping(client: Any, event_id: str) -> Any:
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "dev.knative.sources.ping",
        "ce-id": event_id,
        "ce-source": "/apis/v1/namespaces/default/pingsources/hermes-delta",
        "Content-Type": "application/json",
    }
    return client.post("/", data=b'{"reason": "tick"}', headers=headers)


@pytest.fixture
def function(settings: Settings, function_client: Any) -> Any:
    return function_client("delta_load", settings)


def test_function_before_full_load_answers_412(function: Any) -> None:
    resp = _ping(function, "t1")
    assert resp.status_code == 412  # a precondition the next tick re-checks: nothing for Knative to retry
    assert resp.get_json()["error"]["type"] == "no_full_load"


def test_function_applies_ping_and_manual_events(function: Any, loaded: Settings, source: Any) -> None:
    source[1].put(record("new", at(100)))
    resp = _ping(function, "t2")
    assert resp.status_code == 200
    body = resp.get_json()
    assert {k: body[k] for k in ("status", "indexed", "deleted")} == {"status": "applied", "indexed": 1, "deleted": 0}
    manual = {"specversion": "1.0", "type": "dev.hermes.load.delta", "source": "ops", "id": "m1"}
    resp = function.post("/", json=manual, headers={"Content-Type": "application/cloudevents+json"})
    assert resp.get_json()["status"] == "applied"
    full = {**manual, "type": "dev.hermes.load.full"}
    wrong = function.post("/", json=full, headers={"Content-Type": "application/cloudevents+json"})
    assert wrong.status_code == 400
    assert wrong.get_json()["error"]["type"] == "unsupported_event_type"


def test_function_source_down_is_a_retryable_5xx(function: Any, loaded: Settings, source: Any) -> None:
    source[1].status = 503
    resp = _ping(function, "t3")
    assert resp.status_code == 502  # a 5xx: the Broker retries
    assert resp.get_json()["error"]["type"] == "source_error"


def test_undelivered_events_are_recorded_once_and_shown_by_status(function: Any, loaded: Settings, es: Any) -> None:
    # What the dead-letter Broker's Trigger delivers: the original event plus Knative's knativeerror*
    # extensions (knative/eventing pkg/kncloudevents/event_dispatcher.go).
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "dev.hermes.load.full",
        "ce-source": "ops",
        "ce-id": "lost-1",
        "ce-knativeerrorcode": "502",
        "ce-knativeerrordest": "http://hermes-full-load.hermes.svc/",
        "ce-knativeerrordata": base64.b64encode(b'{"error": {"type": "source_error"}}').decode(),
        "Content-Type": "application/json",
    }
    for _ in range(2):  # the dead-letter delivery itself may be retried
        resp = function.post("/undelivered", data=b"{}", headers=headers)
        # No body, so no CloudEvent reply: Knative would route a reply back into the dead-letter Broker.
        assert resp.status_code == 204, resp.get_json()
        assert resp.get_data() == b""
        assert "Ce-Type" not in resp.headers
    report = status(build_client(loaded), loaded)["undelivered_events"]
    assert report["total"] == 1
    newest = report["newest"][0]
    assert (newest["event_type"], newest["event_id"], newest["error_code"]) == ("dev.hermes.load.full", "lost-1", "502")
    assert "source_error" in newest["error_data"]
