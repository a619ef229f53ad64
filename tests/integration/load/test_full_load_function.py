"""The full_load function (functions-framework's app, in process) against the real Elasticsearch and a real
HTTP data source: CloudEvents in, a load report out, and the errors it maps to HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from hermes.load.lock import LoadLock
from hermes.load.state import State
from hermes.settings import Settings
from tests.integration.load.test_full_load import _records
from tests.support.datasource import SourceBehaviour

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(make_settings: Any, source: tuple[str, SourceBehaviour]) -> Settings:
    return make_settings(DATA_SOURCE_URL=source[0], HERMES_PRUNE_GRACE_S=0, HERMES_SOURCE_RETRIES=1)  # type: ignore[no-any-return]


@pytest.fixture
def function(settings: Settings, function_client: Any) -> Any:
    return function_client("full_load", settings)


def _binary(client: Any, event_id: str, data: bytes = b"{}", kind: str = "dev.hermes.load.full") -> Any:
    headers = {
        "ce-specversion": "1.0",
        "ce-type": kind,
        "ce-source": "curl",
        "ce-id": event_id,
        "Content-Type": "application/json",
    }
    return client.post("/", data=data, headers=headers)


def test_function_binary_and_structured_events(function: Any, source: Any) -> None:
    source[1].put(*_records(4))
    resp = _binary(function, "b-1")
    assert resp.status_code == 200, resp.get_json()
    assert (resp.headers["Ce-Type"], resp.headers["Ce-Source"]) == ("dev.hermes.load.report", "/hermes/full_load")
    assert set(resp.get_json()) >= {
        "status",
        "index",
        "previous_index",
        "indexed",
        "skipped",
        "failed",
        "duration_s",
    }
    structured = {
        "specversion": "1.0",
        "type": "dev.hermes.load.full",
        "source": "curl",
        "id": "s-1",
        "datacontenttype": "application/json",
        "data": {"force": True},
    }
    resp = function.post("/", json=structured, headers={"Content-Type": "application/cloudevents+json"})
    assert resp.get_json()["status"] == "completed"
    assert resp.get_json()["previous_index"] is not None
    assert _binary(function, "b-1").get_json()["status"] == "duplicate"


def test_function_rejects_bad_events(function: Any) -> None:
    wrong = _binary(function, "x", kind="dev.hermes.load.delta")
    assert wrong.status_code == 400
    assert wrong.get_json()["error"]["type"] == "unsupported_event_type"
    not_ce = function.post("/", json={"hello": "world"})
    assert not_ce.status_code == 400
    assert not_ce.get_json()["error"]["type"] == "invalid_event"
    bad_force = _binary(function, "y", data=b'{"force": "yes"}')
    assert bad_force.status_code == 400
    assert bad_force.get_json()["error"]["parameter"] == "force"
    assert function.get("/").status_code == 405
    assert function.get("/health/live").status_code == 200


def test_function_answers_409_while_a_load_runs(function: Any, settings: Settings, es: Any) -> None:
    State(es, settings.state_index).ensure()
    with LoadLock(es, settings.state_index, 60).held("full_load"):
        resp = _binary(function, "busy")
    assert resp.status_code == 409
    assert resp.get_json()["error"]["type"] == "load_in_progress"


def test_function_answers_503_when_elasticsearch_is_down(source: Any, function_client: Any) -> None:
    resp = _binary(function_client("full_load", ES_URL="http://127.0.0.1:9", DATA_SOURCE_URL=source[0]), "down")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"]
