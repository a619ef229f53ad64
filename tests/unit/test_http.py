"""The error boundary's mapping of Elasticsearch failures (pure: exceptions built, no server)."""

from __future__ import annotations

import pytest
from elastic_transport import ApiResponseMeta, ConnectionError, ConnectionTimeout, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from hermes.http import translate


def _api_error(status: int, kind: str = "some_exception") -> ApiError:
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "localhost", 9200))  # fmt: skip
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


def test_other_exceptions_are_not_translated() -> None:
    assert translate(ValueError("a bug")) is None
