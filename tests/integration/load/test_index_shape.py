"""Index shape: the configured shards from creation, no replica while building, the configured ones before the swap."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hermes.client import build_client
from hermes.errors import NotGreenError, UnavailableError
from hermes.load import indices
from hermes.load.full import full_load
from hermes.load.mappings import IndexShape, index_body
from hermes.settings import Settings
from tests.support.datasource import SourceBehaviour, record
from tests.support.process import eventually

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _shape(es: Any, index: str) -> dict[str, str]:
    """The index's shard and replica settings, as Elasticsearch reports them."""
    found = es.indices.get_settings(index=index, name="index.number_of_*,index.auto_expand_replicas")
    return dict(found[index]["settings"]["index"])


def _building(es: Any, alias: str) -> str:
    """The index a full load is writing (the one with a writer alias)."""
    names = [n for n in indices.managed_indices(es, alias) if n not in indices.indices_behind(es, alias)]
    assert len(names) == 1
    return names[0]


@pytest.fixture
def paused(source: tuple[str, SourceBehaviour]) -> SourceBehaviour:
    """A paged source of 30 records that stops answering after its second page, until released."""
    state = source[1]
    state.fmt, state.page_size, state.pause_after = "pages", 10, 2
    state.put(*[record(f"r{i}", T0 + timedelta(minutes=i)) for i in range(30)])
    return state


def _load_in_background(settings: Settings, outcome: list[object]) -> threading.Thread:
    def run() -> None:
        try:
            outcome.append(full_load(build_client(settings), settings))
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_full_load_builds_the_configured_shards_without_replicas_then_restores_them(
    es: Any, make_settings: Any, source: tuple[str, SourceBehaviour], paused: SourceBehaviour
) -> None:
    settings = make_settings(DATA_SOURCE_URL=source[0], HERMES_INDEX_SHARDS=3)
    outcome: list[object] = []
    thread = _load_in_background(settings, outcome)
    assert eventually(lambda: not paused.gate.is_set(), 30)  # the load waits on the source, mid-stream
    building = _building(es, settings.es_index)
    during = _shape(es, building)
    paused.pause_after = None
    paused.release()
    thread.join(timeout=60)
    report = outcome[0]
    assert isinstance(report, dict)
    assert report["status"] == "completed"
    assert report["index"] == building
    assert during == {"number_of_shards": "3", "number_of_replicas": "0", "auto_expand_replicas": "false"}
    # Unset HERMES_INDEX_REPLICAS: auto_expand_replicas 0-1 again (0 replicas on this one node).
    assert _shape(es, building) == {"number_of_shards": "3", "number_of_replicas": "0", "auto_expand_replicas": "0-1"}
    assert es.count(index=settings.es_index)["count"] == 30
    assert es.cluster.health(index=building)["status"] == "green"


def test_configured_replicas_are_set_before_the_swap_which_waits_for_them(
    es: Any, make_settings: Any, source: tuple[str, SourceBehaviour], paused: SourceBehaviour
) -> None:
    # One replica on this one-node cluster can never be allocated: the swap must refuse the yellow index.
    settings = make_settings(
        DATA_SOURCE_URL=source[0], HERMES_INDEX_SHARDS=2, HERMES_INDEX_REPLICAS=1, HERMES_GREEN_TIMEOUT_S=1
    )
    outcome: list[object] = []
    thread = _load_in_background(settings, outcome)
    assert eventually(lambda: not paused.gate.is_set(), 30)
    building = _building(es, settings.es_index)
    during = _shape(es, building)
    paused.pause_after = None
    paused.release()
    thread.join(timeout=60)
    assert during == {"number_of_shards": "2", "number_of_replicas": "0", "auto_expand_replicas": "false"}
    # Two shards, one replica each, none allocatable: the replicas were set before the wait for green.
    assert isinstance(outcome[0], NotGreenError)
    assert "yellow after 1 s: 2 shard copies unassigned" in str(outcome[0])
    assert indices.indices_behind(es, settings.es_index) == []  # nothing served changed
    assert not es.indices.exists(index=building)


def test_an_index_records_its_shape_for_whichever_process_finishes_it(es: Any, alias: str) -> None:
    name = indices.new_index_name(alias)
    indices.create_index(es, name, bulk=True, shape=IndexShape(shards=2, replicas=0))
    assert indices.managed_meta(es, name)["hermes_shape"] == {"shards": 2, "replicas": 0}
    indices.finish_bulk(es, name)  # no shape given: the recorded one is restored
    assert _shape(es, name) == {"number_of_shards": "2", "number_of_replicas": "0", "auto_expand_replicas": "false"}
    indices.wait_green(es, name, 5)


def test_a_build_with_a_primary_missing_is_refused_before_anything_counts_it(es: Any, alias: str) -> None:
    # A primary that cannot be allocated stands for one whose node left mid-load: the index is red.
    name = indices.new_index_name(alias)
    body = index_body(bulk=True, shape=IndexShape(shards=2))
    body["settings"]["index.routing.allocation.require._name"] = "a-node-that-left"
    es.indices.create(index=name, wait_for_active_shards="0", **body)
    with pytest.raises(UnavailableError, match=r"is red after 1 s: a primary shard is unavailable \(its node left\)"):
        indices.finish_bulk(es, name, timeout_s=1)
    es.indices.put_settings(index=name, settings={"index.routing.allocation.require._name": None})
    indices.finish_bulk(es, name, timeout_s=30)  # the node is back: the build finishes
    indices.wait_green(es, name, 5)
