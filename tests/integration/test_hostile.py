"""Hostile records and faults found by the red team (issue 10), against the real Elasticsearch.

Each test names the item it proves. The data source is the test server of
tests/support/datasource.py serving whatever records a test puts there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
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
from tests.support.datasource import SourceBehaviour, record, serve
from tests.support.proxy import Proxy

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _records(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [record(f"r{i}", T0 + timedelta(seconds=i)) for i in range(start, start + n)]


@pytest.fixture
def source() -> Iterator[tuple[str, SourceBehaviour]]:
    with serve() as served:
        yield served


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
    es_url: str, es: Any, make_settings: Any, source: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url, src = source
    src.put(*_records(5))
    direct = make_settings(DATA_SOURCE_URL=url, HERMES_LOCK_TTL_S=1)
    full_load(build_client(direct), direct)
    host, port = es_url.removeprefix("http://").split(":")
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
    time.sleep(1.5)
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
