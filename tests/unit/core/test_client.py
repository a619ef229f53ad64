"""The translation of Elasticsearch failures into Hermes errors (pure: exceptions built, no server).

Both clients are covered: the full client's ``ApiError`` (loaders, CLI) and the light
transport's ``ElasticsearchStatusError`` (the search function) must map alike.
"""

from __future__ import annotations

import pytest
from elastic_transport import ApiResponseMeta, ConnectionError, ConnectionTimeout, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from hermes.client import ElasticsearchStatusError, build_transport, translate
from hermes.settings import Settings


def _api_error(status: int, kind: str = "some_exception") -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "localhost", 9200),
    )
    return ApiError(kind, meta, {"error": {"type": kind}, "status": status})


@pytest.mark.parametrize(
    ("exc", "status", "kind"),
    [
        (ConnectionError("refused"), 503, "service_unavailable"),
        (ConnectionTimeout("slow"), 504, "timeout"),
        (_api_error(404, "index_not_found_exception"), 503, "service_unavailable"),
        (_api_error(400, "search_phase_execution_exception"), 400, "invalid_parameter"),
        (_api_error(401, "security_exception"), 503, "service_unavailable"),
        (_api_error(429, "es_rejected_execution_exception"), 503, "service_unavailable"),
        (_api_error(500), 503, "service_unavailable"),
        (_api_error(504), 504, "timeout"),
    ],
)
def test_elasticsearch_failures_map_to_contract_errors(exc: Exception, status: int, kind: str) -> None:
    err = translate(exc)
    assert err is not None
    assert (err.status, err.type) == (status, kind)
    if isinstance(exc, ApiError):  # the same answer seen through the light transport
        light = translate(ElasticsearchStatusError(exc.meta.status, exc.body))
        assert light is not None
        assert (light.status, light.type) == (status, kind)


@pytest.mark.parametrize(
    ("env", "header"),
    [
        ({"ES_API_KEY": "a2V5"}, "ApiKey a2V5"),
        ({"ES_USERNAME": "elastic", "ES_PASSWORD": "pw"}, "Basic ZWxhc3RpYzpwdw=="),
        ({}, None),
    ],
)
def test_transport_sends_the_configured_credentials(env: dict[str, str], header: str | None) -> None:
    transport = build_transport(Settings(ES_URL="https://es.internal:9243", HERMES_ES_TIMEOUT_S=3, **env))  # type: ignore[arg-type]
    node = transport.node_pool.all()[0].config
    assert (node.scheme, node.host, node.port, node.request_timeout) == ("https", "es.internal", 9243, 3)
    assert node.headers.get("authorization") == header


def test_other_exceptions_are_not_translated() -> None:
    assert translate(ValueError("a bug")) is None
