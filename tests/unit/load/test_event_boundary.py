"""The loaders' HTTP boundary: malformed or oversized CloudEvents, framework errors and pings get JSON
answers that are CloudEvents themselves, never a 500.

The functions are driven through functions-framework's own app, as Knative's queue-proxy would reach them;
Elasticsearch is never reached by these requests (``app`` comes from tests/unit/conftest.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.responses import json_error as _json_error

_HEADERS = {"ce-specversion": "1.0", "ce-type": "dev.hermes.load.full", "ce-source": "t", "ce-id": "1"}


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "application/cloudevents+json"}, b"\xff\xfe not utf-8"),
        (
            {"Content-Type": "application/cloudevents+json"},
            json.dumps({"specversion": ["1.0"], "type": "dev.hermes.load.full", "source": "t", "id": "1"}).encode(),
        ),
        (
            {"Content-Type": "application/cloudevents+json"},
            json.dumps({"specversion": "1.0", "type": None, "source": "t", "id": "1"}).encode(),
        ),
        (
            {"Content-Type": "application/cloudevents+json"},
            json.dumps({"specversion": "1.0", "type": "dev.hermes.load.full", "source": "t", "id": ""}).encode(),
        ),
        ({**_HEADERS, "ce-source": ""}, b"{}"),
        ({"Content-Type": "application/cloudevents+json"}, b'{"specversion": "1.0", "data": ' + b"[" * 2000),
        ({"Content-Type": "application/cloudevents+json"}, b"[" * 1500 + b"]" * 1500),
    ],
)
def test_malformed_cloudevents_are_400(app: Any, headers: dict[str, str], body: bytes) -> None:
    error = _json_error(app("full_load").post("/", data=body, headers=headers), 400)
    assert error["type"] == "invalid_event"


def test_an_event_over_the_size_limit_is_413(app: Any) -> None:
    resp = app("delta_load").post(
        "/",
        data=b"{" + b" " * 10_000 + b"}",
        headers={**_HEADERS, "ce-type": "dev.hermes.load.delta", "Content-Type": "application/json"},
    )
    assert _json_error(resp, 413)["type"] == "payload_too_large"


def test_loader_errors_from_the_framework_are_json_too(app: Any) -> None:
    assert _json_error(app("full_load").get("/favicon.ico"), 404)["type"] == "not_found"
    assert _json_error(app("full_load").put("/"), 405)["type"] == "method_not_allowed"


def test_every_loader_answer_with_a_body_is_a_cloudevent(app: Any) -> None:
    # What a Knative Broker's filter accepts as a reply (knative/eventing pkg/broker/filter/filter_handler.go):
    # read back with the CloudEvents SDK, as the Broker's own SDK would.
    from cloudevents.http import from_http

    client = app("delta_load")
    answers = {
        "dev.hermes.load.error": [
            client.post("/", data=b"{}", headers={**_HEADERS, "Content-Type": "application/json"}),  # wrong type
            client.get("/favicon.ico"),
            client.put("/"),
        ],
        "dev.hermes.load.report": [client.get("/health/live")],
    }
    for kind, responses in answers.items():
        for resp in responses:
            event = from_http(dict(resp.headers), resp.data)
            assert (event["type"], event["source"], event["specversion"]) == (kind, "/hermes/delta_load", "1.0")
            assert event.data == resp.get_json()
    first, second = answers["dev.hermes.load.error"][:2]
    assert first.headers["Ce-Id"] != second.headers["Ce-Id"]


def _ping(client: Any, source: str) -> Any:
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "dev.knative.sources.ping",
        "ce-source": source,
        "ce-id": "tick-1",
        "Content-Type": "application/json",
    }
    return client.post("/", data=b'{"reason": "scheduled reconciliation"}', headers=headers)


def test_the_full_load_takes_ticks_of_its_own_pingsource_only(app: Any) -> None:
    client = app("full_load")
    other = _ping(client, "/apis/v1/namespaces/hermes/pingsources/hermes-delta")
    assert _json_error(other, 400)["type"] == "unsupported_event_type"
    # Its own tick is accepted and runs a load (which, with no Elasticsearch here, answers 503).
    own = _ping(client, "/apis/v1/namespaces/hermes/pingsources/hermes-full")
    assert _json_error(own, 503)["type"] == "service_unavailable"
