"""Hostile records and faults found by the red team (issue 10), against the real Elasticsearch.

Each test names the item it proves. The data source is the test server of
tests/support/datasource.py serving whatever records a test puts there.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elastic_transport import ConnectionTimeout
from elasticsearch._sync.client.indices import IndicesClient

from hermes.client import build_client
from hermes.errors import SourceError, UnavailableError
from hermes.load import indices
from hermes.load.delta import delta_load
from hermes.load.full import full_load
from hermes.load.lock import LoadLock
from hermes.load.state import State
from hermes.settings import Settings
from tests.support.clock import ShiftedClock
from tests.support.datasource import SourceBehaviour, record, serve
from tests.support.proxy import Proxy

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _records(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [record(f"r{i}", T0 + timedelta(seconds=i)) for i in range(start, start + n)]


@pytest.fixture
def settings(make_settings: Any, source: tuple[str, SourceBehaviour]) -> Settings:
    return make_settings(DATA_SOURCE_URL=source[0], HERMES_PRUNE_GRACE_S=0)  # type: ignore[no-any-return]


def _served_ids(es: Any, alias: str) -> set[str]:
    hits = es.search(index=alias, query={"term": {"deleted": False}}, size=1000, source=False)["hits"]["hits"]
    return {h["_id"] for h in hits}


def test_item1_a_record_from_the_future_does_not_stall_the_deltas(es: Any, settings: Settings, source: Any) -> None:
    src = source[1]
    src.put(*_records(3))
    full_load(build_client(settings), settings)
    now = datetime.now(UTC)
    src.put(record("future", datetime(2999, 1, 1, tzinfo=UTC)), record("today", now))
    report = delta_load(build_client(settings), settings)
    assert report["indexed"] == 2
    watermark = State(es, settings.state_index).watermark()
    assert watermark is not None
    assert watermark <= datetime.now(UTC)  # capped at the delta's own start
    src.put(record("later", datetime.now(UTC)))
    assert delta_load(build_client(settings), settings)["indexed"] >= 1
    assert "later" in _served_ids(es, settings.es_index)


def test_item2_an_id_over_512_bytes_is_skipped_not_fatal(es: Any, settings: Settings, source: Any) -> None:
    src = source[1]
    src.put(*_records(5), record("é" * 300, T0))  # 300 characters, 600 bytes
    report = full_load(build_client(settings), settings)
    assert (report["indexed"], report["invalid"]) == (5, 1)
    assert _served_ids(es, settings.es_index) == {f"r{i}" for i in range(5)}


def test_item3_timestamps_at_the_calendars_edges_are_invalid_records(es: Any, settings: Settings,
                                                                     source: Any) -> None:  # fmt: skip
    src = source[1]
    src.put(*_records(4), record("end", "9999-12-31T23:59:59-01:00"), record("start", "0001-01-01T00:00:00+00:01"))
    report = full_load(build_client(settings), settings)
    assert (report["indexed"], report["invalid"]) == (4, 2)


def test_item4_a_swap_that_times_out_after_it_was_applied_keeps_the_new_index(
    es: Any, settings: Settings, source: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = source[1]
    src.put(*_records(5))
    first = full_load(build_client(settings), settings)["index"]
    applied = IndicesClient.update_aliases

    def applied_then_timed_out(self: Any, *args: Any, **kwargs: Any) -> Any:
        applied(self, *args, **kwargs)
        raise ConnectionTimeout("timed out after Elasticsearch applied the swap")

    monkeypatch.setattr(IndicesClient, "update_aliases", applied_then_timed_out)
    with pytest.raises(ConnectionTimeout):
        full_load(build_client(settings), settings)
    monkeypatch.undo()
    serving = indices.indices_behind(es, settings.es_index)
    assert len(serving) == 1
    assert serving[0] != first  # the alias moved, and what it serves still exists
    assert _served_ids(es, settings.es_index) == {f"r{i}" for i in range(5)}


def test_item4_a_failure_before_the_swap_still_cleans_up(
    es: Any, settings: Settings, source: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = source[1]
    src.put(*_records(5))
    first = full_load(build_client(settings), settings)["index"]

    def refused(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionTimeout("the swap never reached Elasticsearch")

    monkeypatch.setattr(IndicesClient, "update_aliases", refused)
    with pytest.raises(ConnectionTimeout):
        full_load(build_client(settings), settings)
    monkeypatch.undo()
    assert indices.indices_behind(es, settings.es_index) == [first]
    assert set(indices.managed_indices(es, settings.es_index)) == {first}  # no orphan left


def test_item6_elasticsearch_down_mid_load_fails_and_the_lock_frees_after_its_ttl(
    es: Any, make_settings: Any, source: Any, caplog: pytest.LogCaptureFixture, lock_clock: type[ShiftedClock]
) -> None:
    url, src = source
    src.put(*_records(5))
    direct = make_settings(DATA_SOURCE_URL=url, HERMES_LOCK_TTL_S=1)
    full_load(build_client(direct), direct)
    host, port = direct.es_url.removeprefix("http://").split(":")
    proxy = Proxy(host, int(port))
    proxy.up()
    try:
        via_proxy = make_settings(DATA_SOURCE_URL=url, ES_URL=f"http://127.0.0.1:{proxy.port}", HERMES_LOCK_TTL_S=1,
                                  HERMES_ES_BULK_TIMEOUT_S=2, HERMES_ES_MAX_RETRIES=0)  # fmt: skip
        src.hold()
        with ThreadPoolExecutor(1) as pool, caplog.at_level(logging.WARNING, logger="hermes.load.lock"):
            load = pool.submit(full_load, build_client(via_proxy), via_proxy)
            assert src.arrived.wait(30)
            proxy.down()  # Elasticsearch gone while the load streams
            src.release()
            with pytest.raises(Exception) as failed:
                load.result()
        assert type(failed.value).__module__.startswith("elastic_transport")  # the load's own error, not masked
        assert "lock not released; it expires after the TTL" in caplog.text
    finally:
        proxy.down()
    # The lock the failed run left expires after its TTL (no heartbeat renews it): the next run proceeds.
    assert LoadLock(es, direct.state_index, 1).current() is not None
    lock_clock.advance(1.5)  # past the TTL of 1 s
    assert full_load(build_client(direct), direct)["status"] == "completed"


def test_item7_five_percent_invalid_records_do_not_exceed_a_ten_percent_budget(es: Any, settings: Settings,
                                                                              source: Any) -> None:  # fmt: skip
    src = source[1]
    src.put(*_records(3000))
    for i in range(0, 3000, 20):
        src.records[f"r{i}"] = {"id": f"r{i}", "updated_at": "not a timestamp"}
    report = full_load(build_client(settings), settings)
    assert (report["indexed"], report["invalid"]) == (2850, 150)


@pytest.mark.parametrize("body", [b'{"next": null}', b'{"data": [], "next": null}', b'{"items": {}, "next": null}'])
def test_item8_a_page_without_items_is_an_error_not_an_empty_source(es: Any, settings: Settings, source: Any,
                                                                    body: bytes) -> None:  # fmt: skip
    src = source[1]
    src.put(*_records(5))
    served = full_load(build_client(settings), settings)["index"]
    src.raw_body = body
    with pytest.raises(SourceError, match='no "items" array'):
        full_load(build_client(settings), settings, force=True)
    assert indices.indices_behind(es, settings.es_index) == [served]
    assert _served_ids(es, settings.es_index) == {f"r{i}" for i in range(5)}


def test_item5_a_delta_never_recreates_a_deleted_served_index(es: Any, settings: Settings, source: Any) -> None:
    src = source[1]
    src.put(*_records(5))
    served = full_load(build_client(settings), settings)["index"]
    es.indices.delete(index=served)  # an operator's mistake: the alias goes with it
    src.put(record("new", datetime.now(UTC)))
    with pytest.raises(UnavailableError, match="no longer exists"):
        delta_load(build_client(settings), settings)
    assert not es.indices.exists(index=settings.es_index)  # nothing auto-created under the alias's name
    assert full_load(build_client(settings), settings)["status"] == "completed"  # and the next rebuild works
    assert "new" in _served_ids(es, settings.es_index)


def test_item5_a_full_load_whose_index_vanishes_fails_without_recreating_it(es: Any, settings: Settings,
                                                                           source: Any) -> None:  # fmt: skip
    src = source[1]
    src.put(*_records(5))
    served = full_load(build_client(settings), settings)["index"]
    src.hold()
    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(full_load, build_client(settings), settings)
        assert src.arrived.wait(30)
        building = set(indices.managed_indices(es, settings.es_index)) - {served}
        assert len(building) == 1
        es.indices.delete(index=building.pop())  # e.g. pruned by another run
        src.release()
        with pytest.raises(UnavailableError, match="no longer exists"):
            load.result()
    assert set(indices.managed_indices(es, settings.es_index)) == {served}
    assert indices.indices_behind(es, settings.es_index) == [served]


def test_item9_records_elasticsearch_would_refuse_are_skipped_one_by_one(es: Any, make_settings: Any,
                                                                        source: Any) -> None:  # fmt: skip
    url, src = source
    settings = make_settings(DATA_SOURCE_URL=url, HERMES_MAX_RECORD_BYTES=20_000)
    when = "2026-01-01T00:00:00Z"
    deep = '{"id": "deep", "updated_at": "%s", "x": %s1%s}' % (when, '{"a": ' * 300, "}" * 300)  # noqa: UP031
    lines = [
        json.dumps(record("ok1", when)),
        json.dumps(record("big", when, content="x" * 30_000)),  # over HERMES_MAX_RECORD_BYTES
        deep,  # orjson serialises at most 255 levels
        '{"id": "surrogate", "updated_at": "%s", "title": "\\ud800"}' % when,  # noqa: UP031 - a lone surrogate
        "{this is not json",  # one bad NDJSON line
        json.dumps(
            {**record("odd", when), "_id": "x", "_source": 1, "_routing": "r", "": 2, ".": 3, "title.keyword": "t"}
        ),
        json.dumps(record("ok2", when)),
    ]
    src.raw_body, src.raw_type = ("\n".join(lines) + "\n").encode(), "application/x-ndjson"
    report = full_load(build_client(settings), settings)
    assert (report["indexed"], report["invalid"], report["failed"]) == (3, 4, 0)
    odd = es.get(index=settings.es_index, id="odd")["_source"]
    renamed = {"x__id": "x", "x__source": 1, "x__routing": "r", "x_": 2, "x__": 3, "x_title_keyword": "t"}
    assert {k: odd[k] for k in renamed} == renamed  # kept, under names Elasticsearch can store


def test_item10_next_links_stay_within_the_source_origin(make_settings: Any, source: Any) -> None:
    url, src = source
    with serve() as (other_url, other):
        other.put(*_records(2))
        src.token = "s3cret"
        settings = make_settings(DATA_SOURCE_URL=url, DATA_SOURCE_TOKEN="s3cret")
        src.raw_body = json.dumps({"items": _records(2), "next": other_url}).encode()
        with pytest.raises(SourceError, match="outside the origin"):
            full_load(build_client(settings), settings)
        assert other.requests == []  # the other host never saw the token, nor any request


def test_item10_a_next_link_loop_stops(make_settings: Any, source: Any) -> None:
    url, src = source
    settings = make_settings(DATA_SOURCE_URL=url)
    src.raw_body = json.dumps({"items": _records(2), "next": "?page=1"}).encode()
    with pytest.raises(SourceError, match="loop"):
        full_load(build_client(settings), settings)
    assert len(src.requests) == 2  # the first page and its one self-link, then it stops


def test_item13_a_trickling_source_hits_the_deadline(make_settings: Any, source: Any) -> None:
    url, src = source
    settings = make_settings(DATA_SOURCE_URL=url, HERMES_SOURCE_DEADLINE_S=1, HERMES_SOURCE_RETRIES=0)
    src.put(*_records(3))
    src.trickle_s = 0.02  # ~400 bytes: 8 s in all, a byte well within every read timeout
    with pytest.raises(SourceError, match="HERMES_SOURCE_DEADLINE_S"):
        full_load(build_client(settings), settings)
    src.trickle_s = 0


def test_item16_a_source_error_is_logged_with_its_cause(function_client: Any, make_settings: Any,
                                                        caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    settings = make_settings(DATA_SOURCE_URL="http://127.0.0.1:9/records", HERMES_SOURCE_RETRIES=0)
    client = function_client("full_load", settings)
    headers = {"ce-specversion": "1.0", "ce-type": "dev.hermes.load.full", "ce-source": "t", "ce-id": "1",
               "Content-Type": "application/json"}  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="hermes.responses"):
        assert client.post("/", data=b"{}", headers=headers).status_code == 502
    failed = [r for r in caplog.records if r.getMessage() == "request failed"]
    assert failed
    cause = str(failed[-1].__dict__.get("cause"))
    assert cause.startswith("ConnectionError")
    assert "127.0.0.1" in cause  # where it failed, not just that it did


def test_an_invalid_record_in_the_overlap_window_is_one_dead_letter_not_one_per_tick(
    es: Any, settings: Settings, source: Any
) -> None:  # issue 9, item 12
    src = source[1]
    src.put(*_records(3))
    full_load(build_client(settings), settings)
    now = datetime.now(UTC).isoformat()
    src.records["bad"] = {"id": "bad", "updated_at": now, "tags": "not a list"}
    for _ in range(3):  # every tick re-reads the overlap window
        assert delta_load(build_client(settings), settings)["invalid"] == 1
    total, letters = State(es, settings.state_index).dead_letters()
    assert total == 1
    assert (letters[0]["record_id"], letters[0]["record_version"]) == ("bad", now)
    src.records["bad"] = {"id": "bad", "updated_at": datetime.now(UTC).isoformat(), "tags": "still not"}
    delta_load(build_client(settings), settings)
    assert State(es, settings.state_index).dead_letters()[0] == 2  # a new version is a new dead letter
