"""The one boundary where results and exceptions become HTTP answers (CONTRACT.md § errors).

Both apps (``hermes.search.app`` and ``hermes.load.app``) answer through
:func:`guarded`: Hermes errors keep their status and type, Elasticsearch failures are
translated by ``hermes.client.translate``, anything else is logged with its traceback
and answered with a generic 500.

The shared body shapes (``hermes.bodies``) are ``TypedDict``s: the code that builds them
is type-checked against them, and ``/openapi.json`` is generated from the same classes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from hermes.client import translate
from hermes.errors import HermesError, RateLimitedError, error_body

if TYPE_CHECKING:
    from hermes.bodies import Health

log = logging.getLogger(__name__)

JSON = "application/json"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (bodies are plain dicts and lists)."""
    return Response(orjson.dumps(body), status, headers, mimetype=JSON)


def error_response(err: HermesError, retry_after_s: int = 5, headers: dict[str, str] | None = None) -> Response:
    """The error as an answer; 503s and 429s say when to retry."""
    if isinstance(err, RateLimitedError):
        retry_after_s = err.retry_after_s
    retry = {"Retry-After": str(retry_after_s)} if err.status in (429, 503) else {}
    challenge = {"WWW-Authenticate": 'Bearer realm="hermes"'} if err.status == 401 else {}  # RFC 6750 § 3
    all_headers = {**(headers or {}), **retry, **challenge}
    return json_response(error_body(err), err.status, all_headers or None)


def health_response(problem: str | None = None, retry_after_s: int = 5) -> Response:
    """200 ``{"status": "ok"}``, or 503 naming the problem."""
    if problem is None:
        ok: Health = {"status": "ok"}
        return json_response(ok)
    down: Health = {"status": "unavailable", "detail": problem}
    return json_response(down, 503, {"Retry-After": str(retry_after_s)})


_HTTP_TYPES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    431: "headers_too_large",
}


def http_error_response(exc: HTTPException) -> Response:
    """werkzeug's own errors (a malformed request, a body over the limit) as the contract's JSON."""
    status = exc.code or 500
    err = HermesError(exc.description or exc.name)
    err.status, err.type = status, _HTTP_TYPES.get(status, "http_error")
    response = error_response(err)
    if status == 405 and isinstance(exc.valid_methods, list | tuple | set):  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))  # type: ignore[attr-defined]
    return response


def install(app: Flask) -> None:
    """Make the functions-framework app answer every error as JSON.

    functions-framework runs a function's module inside its Flask app's context, so a
    ``main.py`` calls this at import with ``flask.current_app``. Errors raised before the
    function is reached (an unroutable path, ``/favicon.ico``) would otherwise be HTML.
    """
    app.register_error_handler(HTTPException, http_error_response)


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
        if err.status >= 500:  # with its cause: the URL, page or urllib3 reason behind it
            cause = f"{type(err.__cause__).__name__}: {err.__cause__}" if err.__cause__ else None
            log.warning("request failed", extra={"error_type": err.type, "detail": err.message, "cause": cause})
        return error_response(err, retry_after_s)
    except HTTPException as exc:  # e.g. the body over MAX_CONTENT_LENGTH, read inside the handler
        return http_error_response(exc)
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
