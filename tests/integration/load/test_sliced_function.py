"""The full_load function process over HTTP: a sliced load goes on by itself after one event (no sink:
the function hands each next slice over to itself on its PORT), and the hand-over events' shape."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from hermes.load import indices
from hermes.load.checkpoints import Checkpoints
from hermes.settings import Settings, to_environ
from tests.support.datasource import SourceBehaviour, record, serve
from tests.support.process import eventually, started

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _post(url: str, kind: str, data: object = None) -> requests.Response:
    headers = {
        "Ce-Specversion": "1.0",
        "Ce-Type": kind,
        "Ce-Source": "curl",
        "Ce-Id": uuid.uuid4().hex,
        "Content-Type": "application/json",
    }
    body = b"" if data is None else requests.models.complexjson.dumps(data).encode()
    return requests.post(url, data=body, headers=headers, timeout=120)


@pytest.fixture(scope="module")
def idle_function(es_url: str, module_alias: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One full_load process for the module's events that start nothing (an empty source, no load in its
    alias): each test's event gets its answer from the same process."""
    source = tmp_path_factory.mktemp("source") / "empty.ndjson"
    source.write_text("")
    settings = Settings(ES_URL=es_url, ES_INDEX=module_alias, DATA_SOURCE_URL=f"file://{source}")  # type: ignore[call-arg]
    with started("full_load", "full_load", to_environ(settings)) as (url, _):
        yield url


@pytest.mark.slow  # a function process runs a whole sliced load, handing each slice over to itself
@pytest.mark.parametrize("partitions", [1, 3])
def test_one_event_starts_a_load_that_completes_by_itself(es: Any, make_settings: Any, partitions: int) -> None:
    with serve(SourceBehaviour(fmt="pages", page_size=4)) as (source_url, src):
        src.put(*(record(f"r{i:02d}", T0 + timedelta(minutes=i)) for i in range(30)))
        settings = make_settings(DATA_SOURCE_URL=source_url, HERMES_SLICE_S=0.001, HERMES_LOAD_PARTITIONS=partitions)
        with started("full_load", "full_load", to_environ(settings)) as (url, _):
            first = _post(url, "dev.hermes.load.full")
            assert first.status_code == 200, first.text
            assert first.headers["Ce-Type"] == "dev.hermes.load.report"
            body = first.json()
            assert (body["status"], body["partitions"]) == ("continuing", partitions)
            assert eventually(lambda: indices.indices_behind(es, settings.es_index) == [body["index"]], 120)
        load = Checkpoints(es, settings.state_index).load(body["load"])
        assert load is not None
        assert (load.status, load.report and load.report["indexed"]) == ("completed", 30)
        assert es.count(index=settings.es_index)["count"] == 30
        slices = sum(p.slice for p in Checkpoints(es, settings.state_index).partitions(load))
        assert slices >= 30 // 4  # about a page a slice, each its own request


@pytest.mark.parametrize(
    ("data", "parameter"),
    [
        ({"partition": 0}, "load"),
        ({"load": "../../etc"}, "load"),
        ({"load": "1", "partition": -1}, "partition"),
        ({"load": "1", "slice": "2"}, "slice"),
        ({"load": "123"}, "load"),  # no such load
    ],
)
def test_a_bad_hand_over_event_gets_a_400_naming_its_field(idle_function: str, data: object, parameter: str) -> None:
    resp = _post(idle_function, "dev.hermes.load.full.continue", data)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["parameter"] == parameter


def test_a_cancel_event_with_nothing_running_is_a_404(idle_function: str) -> None:
    resp = _post(idle_function, "dev.hermes.load.full.cancel")
    assert resp.status_code == 404
    assert resp.json()["error"]["type"] == "not_found"
