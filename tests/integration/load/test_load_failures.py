"""Loads that fail midway (a swap that times out, Elasticsearch gone, an index deleted under them) leave
the alias, the served index and the lock as they should, against the real Elasticsearch.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from elastic_transport import ConnectionTimeout
from elasticsearch._sync.client.indices import IndicesClient

from hermes.client import build_client
from hermes.errors import UnavailableError
from hermes.load import indices
from hermes.load.delta import delta_load
from hermes.load.full import full_load
from hermes.load.lock import LoadLock
from hermes.settings import Settings
from tests.support.clock import ShiftedClock
from tests.support.datasource import SourceBehaviour, record
from tests.support.loads import records, served_ids
from tests.support.proxy import Proxy

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(make_settings: Any, source: tuple[str, SourceBehaviour]) -> Settings:
    return make_settings(DATA_SOURCE_URL=source[0], HERMES_PRUNE_GRACE_S=0)  # type: ignore[no-any-return]


def test_a_swap_that_times_out_after_it_was_applied_keeps_the_new_index(
    es: Any, settings: Settings, source: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = source[1]
    src.put(*records(5))
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
    assert served_ids(es, settings.es_index) == {f"r{i}" for i in range(5)}


def test_a_failure_before_the_swap_still_cleans_up(
    es: Any, settings: Settings, source: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = source[1]
    src.put(*records(5))
    first = full_load(build_client(settings), settings)["index"]

    def refused(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionTimeout("the swap never reached Elasticsearch")

    monkeypatch.setattr(IndicesClient, "update_aliases", refused)
    with pytest.raises(ConnectionTimeout):
        full_load(build_client(settings), settings)
    monkeypatch.undo()
    assert indices.indices_behind(es, settings.es_index) == [first]
    assert set(indices.managed_indices(es, settings.es_index)) == {first}  # no orphan left


def test_elasticsearch_down_mid_load_fails_and_the_lock_frees_after_its_ttl(
    es: Any, make_settings: Any, source: Any, caplog: pytest.LogCaptureFixture, lock_clock: type[ShiftedClock]
) -> None:
    url, src = source
    src.put(*records(5))
    direct = make_settings(DATA_SOURCE_URL=url, HERMES_LOCK_TTL_S=30)
    full_load(build_client(direct), direct)
    host, port = direct.es_url.removeprefix("http://").split(":")
    proxy = Proxy(host, int(port))
    proxy.up()
    try:
        via_proxy = make_settings(
            DATA_SOURCE_URL=url,
            ES_URL=f"http://127.0.0.1:{proxy.port}",
            HERMES_LOCK_TTL_S=30,
            HERMES_ES_BULK_TIMEOUT_S=2,
            HERMES_ES_MAX_RETRIES=0,
        )
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
    assert LoadLock(es, direct.state_index, 30).current() is not None
    lock_clock.advance(31)  # past the TTL (30 s: at 1 s a renewal gets 0.2 s, too short for a busy machine)
    assert full_load(build_client(direct), direct)["status"] == "completed"


def test_a_delta_never_recreates_a_deleted_served_index(es: Any, settings: Settings, source: Any) -> None:
    src = source[1]
    src.put(*records(5))
    served = full_load(build_client(settings), settings)["index"]
    es.indices.delete(index=served)  # an operator's mistake: the alias goes with it
    src.put(record("new", datetime.now(UTC)))
    with pytest.raises(UnavailableError, match="no longer exists"):
        delta_load(build_client(settings), settings)
    assert not es.indices.exists(index=settings.es_index)  # nothing auto-created under the alias's name
    assert full_load(build_client(settings), settings)["status"] == "completed"  # and the next rebuild works
    assert "new" in served_ids(es, settings.es_index)


def test_a_full_load_whose_index_vanishes_fails_without_recreating_it(es: Any, settings: Settings, source: Any) -> None:
    src = source[1]
    src.put(*records(5))
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
