"""The one boundary where exceptions become HTTP answers (CONTRACT.md § errors)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from flask import Response

from hermes.errors import (
    BadRequestError,
    HermesError,
    UnavailableError,
    UpstreamTimeoutError,
)

log = logging.getLogger(__name__)

JSON = "application/json"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (bodies are plain dicts or pydantic ``model_dump`` output)."""
    return Response(orjson.dumps(body), status, headers, mimetype=JSON)


def error_body(err: HermesError) -> dict[str, Any]:
    """The contract's error object."""
    detail: dict[str, Any] = {"type": err.type, "message": err.message}
    if err.parameter is not None:
        detail["parameter"] = err.parameter
    return {"error": detail}


def error_response(err: HermesError, retry_after_s: int = 5) -> Response:
    headers = {"Retry-After": str(retry_after_s)} if err.status == 503 else None
    return json_response(error_body(err), err.status, headers)


def translate(exc: BaseException) -> HermesError | None:
    """Turn an Elasticsearch client exception into a Hermes error (None: not one)."""
    import elastic_transport  # noqa: PLC0415 - already loaded whenever ES raised
    from elasticsearch import ApiError  # noqa: PLC0415

    if isinstance(exc, elastic_transport.ConnectionTimeout):
        return UpstreamTimeoutError("Elasticsearch did not answer in time")
    if isinstance(exc, elastic_transport.TransportError):
        return UnavailableError("Elasticsearch is unreachable")
    if isinstance(exc, ApiError):
        kind = _es_error_type(exc)
        if kind == "index_not_found_exception":
            return UnavailableError("the index does not exist yet: run a full load")
        status = exc.meta.status
        if status == 400:
            return BadRequestError(f"Elasticsearch could not run this query ({kind})")
        if status in (408, 504):
            return UpstreamTimeoutError("Elasticsearch did not answer in time")
        if status in (401, 403):  # a configuration problem, not the caller's: retry after the fix
            return UnavailableError("Elasticsearch refused Hermes' credentials")
        if status == 429 or status >= 500:
            return UnavailableError(f"Elasticsearch is overloaded or recovering ({kind})")
    return None


def _es_error_type(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("type", "unknown"))
    return "unknown"


def guarded(
    handler: Callable[[], Response],
    retry_after_s: int = 5,
    on_upstream_error: Callable[[str], None] | None = None,
) -> Response:
    """Run ``handler``; map every failure to the contract's JSON error.

    ``on_upstream_error`` is told the error type of every Elasticsearch failure (for metrics).
    """
    try:
        return handler()
    except HermesError as err:
        if err.status >= 500:
            log.warning("request failed", extra={"error_type": err.type, "detail": err.message})
        return error_response(err, retry_after_s)
    except Exception as exc:
        mapped = translate(exc)
        if mapped is not None:
            log.warning("elasticsearch error", extra={"error_type": mapped.type, "exc": type(exc).__name__})
            if on_upstream_error is not None:
                on_upstream_error(mapped.type)
            return error_response(mapped, retry_after_s)
        log.exception("unhandled error")
        internal = HermesError("internal error; see the logs")
        return error_response(internal)
