"""Hostile requests answered at the one boundary (issue 10, items 12-15): always JSON, never a 500.

The functions are driven through functions-framework's own app (``create_app``), as
Knative's queue-proxy would reach them; Elasticsearch is never reached by these requests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from hermes.load.sources import _CappedRetry
from hermes.search.models import SearchParams
from hermes.search.params import parse_params

_HEADERS = {"ce-specversion": "1.0", "ce-type": "dev.hermes.load.full", "ce-source": "t", "ce-id": "1"}


@pytest.fixture
def app(function_client: Any) -> Any:
    def build(name: str, **env: str) -> Any:
        defaults = {"ES_URL": "http://127.0.0.1:9", "DATA_SOURCE_URL": "file:///nonexistent.json",
                    "HERMES_MAX_EVENT_BYTES": "4096"}  # fmt: skip
        return function_client(name, **{**defaults, **env})

    return build


def _json_error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.data[:300]
    assert resp.mimetype == "application/json"
    return dict(resp.get_json()["error"])


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "application/cloudevents+json"}, b"\xff\xfe not utf-8"),
        ({"Content-Type": "application/cloudevents+json"},
         json.dumps({"specversion": ["1.0"], "type": "dev.hermes.load.full", "source": "t", "id": "1"}).encode()),
        ({"Content-Type": "application/cloudevents+json"},
         json.dumps({"specversion": "1.0", "type": None, "source": "t", "id": "1"}).encode()),
        ({"Content-Type": "application/cloudevents+json"},
         json.dumps({"specversion": "1.0", "type": "dev.hermes.load.full", "source": "t", "id": ""}).encode()),
        ({**_HEADERS, "ce-source": ""}, b"{}"),
        ({"Content-Type": "application/cloudevents+json"}, b'{"specversion": "1.0", "data": ' + b"[" * 2000),
        ({"Content-Type": "application/cloudevents+json"}, b"[" * 1500 + b"]" * 1500),
    ],
)  # fmt: skip
def test_item12_malformed_cloudevents_are_400(app: Any, headers: dict[str, str], body: bytes) -> None:
    error = _json_error(app("full_load").post("/", data=body, headers=headers), 400)
    assert error["type"] == "invalid_event"


def test_item12_an_event_over_the_size_limit_is_413(app: Any) -> None:
    resp = app("delta_load").post("/", data=b"{" + b" " * 10_000 + b"}", headers={**_HEADERS,
                                  "ce-type": "dev.hermes.load.delta", "Content-Type": "application/json"})  # fmt: skip
    assert _json_error(resp, 413)["type"] == "payload_too_large"


@pytest.mark.parametrize("path", ["/favicon.ico", "/robots.txt", "/search%0A", "/documents/a%0Ab"])
def test_item15_werkzeug_errors_are_json(app: Any, path: str) -> None:
    resp = app("search").get(path)
    assert resp.status_code in (400, 404)
    assert _json_error(resp, resp.status_code)["type"] in ("invalid_request", "not_found")


def test_item15_loader_errors_are_json_too(app: Any) -> None:
    assert _json_error(app("full_load").get("/favicon.ico"), 404)["type"] == "not_found"
    assert _json_error(app("full_load").put("/"), 405)["type"] == "method_not_allowed"


def test_item14_cors_answers_vary_on_origin_even_when_the_origin_is_refused(app: Any) -> None:
    client = app("search", HERMES_CORS_ORIGINS="https://a.example")
    refused = client.get("/health/live", headers={"Origin": "https://evil.example"})
    assert "Origin" in refused.headers.get("Vary", "")
    assert "Access-Control-Allow-Origin" not in refused.headers
    allowed = client.get("/health/live", headers={"Origin": "https://a.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert "Origin" in allowed.headers["Vary"]


def test_item14_unknown_parameters_are_ignored_even_repeated_and_from_is_only_from() -> None:
    params = parse_params(SearchParams, MultiDict([("q", "x"), ("utm", "a"), ("utm", "b"), ("from_", "7")]))
    assert params.from_ == 0


def test_item13_retry_after_is_capped() -> None:
    from urllib3 import HTTPResponse

    asked = HTTPResponse(body=b"", status=503, headers={"Retry-After": "20"})
    assert _CappedRetry(total=1).get_retry_after(asked) == _CappedRetry.MAX_RETRY_AFTER_S
    soon = HTTPResponse(body=b"", status=503, headers={"Retry-After": "2"})
    assert _CappedRetry(total=1).get_retry_after(soon) == 2


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
    headers = {"ce-specversion": "1.0", "ce-type": "dev.knative.sources.ping", "ce-source": source,
               "ce-id": "tick-1", "Content-Type": "application/json"}  # fmt: skip
    return client.post("/", data=b'{"reason": "scheduled reconciliation"}', headers=headers)


def test_the_full_load_takes_ticks_of_its_own_pingsource_only(app: Any) -> None:
    client = app("full_load")
    other = _ping(client, "/apis/v1/namespaces/hermes/pingsources/hermes-delta")
    assert _json_error(other, 400)["type"] == "unsupported_event_type"
    # Its own tick is accepted and runs a load (which, with no Elasticsearch here, answers 503).
    own = _ping(client, "/apis/v1/namespaces/hermes/pingsources/hermes-full")
    assert _json_error(own, 503)["type"] == "service_unavailable"
