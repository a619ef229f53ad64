"""Records a load must skip, count or cap, never stop on, against the real Elasticsearch.

The data source is the test server of tests/support/datasource.py serving whatever records a test puts there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hermes.client import build_client
from hermes.load.delta import delta_load
from hermes.load.full import full_load
from hermes.load.state import State
from hermes.settings import Settings
from tests.support.datasource import SourceBehaviour, record
from tests.support.loads import T0, records, served_ids

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(make_settings: Any, source: tuple[str, SourceBehaviour]) -> Settings:
    return make_settings(DATA_SOURCE_URL=source[0], HERMES_PRUNE_GRACE_S=0)  # type: ignore[no-any-return]


def test_a_record_from_the_future_does_not_stall_the_deltas(es: Any, settings: Settings, source: Any) -> None:
    src = source[1]
    src.put(*records(3))
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
    assert "later" in served_ids(es, settings.es_index)


def test_an_id_over_512_bytes_is_skipped_not_fatal(es: Any, settings: Settings, source: Any) -> None:
    src = source[1]
    src.put(*records(5), record("é" * 300, T0))  # 300 characters, 600 bytes
    report = full_load(build_client(settings), settings)
    assert (report["indexed"], report["invalid"]) == (5, 1)
    assert served_ids(es, settings.es_index) == {f"r{i}" for i in range(5)}


def test_timestamps_at_the_calendars_edges_are_invalid_records(es: Any, settings: Settings, source: Any) -> None:
    src = source[1]
    src.put(*records(4), record("end", "9999-12-31T23:59:59-01:00"), record("start", "0001-01-01T00:00:00+00:01"))
    report = full_load(build_client(settings), settings)
    assert (report["indexed"], report["invalid"]) == (4, 2)


def test_five_percent_invalid_records_do_not_exceed_a_ten_percent_budget(
    es: Any, settings: Settings, source: Any
) -> None:
    src = source[1]
    src.put(*records(3000))
    for i in range(0, 3000, 20):
        src.records[f"r{i}"] = {"id": f"r{i}", "updated_at": "not a timestamp"}
    report = full_load(build_client(settings), settings)
    assert (report["indexed"], report["invalid"]) == (2850, 150)


def test_records_elasticsearch_would_refuse_are_skipped_one_by_one(es: Any, make_settings: Any, source: Any) -> None:
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


def test_an_invalid_record_in_the_overlap_window_is_one_dead_letter_not_one_per_tick(
    es: Any, settings: Settings, source: Any
) -> None:
    src = source[1]
    src.put(*records(3))
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
