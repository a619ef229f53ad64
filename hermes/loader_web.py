"""The loaders' HTTP surface: CloudEvents in, contract reports out.

functions-framework's ``cloud_event`` signature always answers ``OK`` and drops
the return value, while the contract needs JSON reports and 4xx/409 answers, so
the loaders are HTTP functions that parse the CloudEvent themselves (binary and
structured mode, via the cloudevents SDK). That also lets them answer probes.
"""

from __future__ import annotations

import logging

from flask import Request, Response

from hermes import loads
from hermes.client import get_client
from hermes.errors import MethodNotAllowedError, NotFoundError
from hermes.events import DELTA_LOAD, FULL_LOAD, PING, full_load_options, parse_event
from hermes.http import error_response, guarded, json_response
from hermes.settings import get_settings

log = logging.getLogger(__name__)

_HEALTH = ("/health/live", "/health/ready")


def _probe_or_reject(request: Request) -> Response | None:
    """Answer probes and wrong methods; None when the request is an event to handle."""
    if request.method == "GET" and request.path in _HEALTH:
        return json_response({"status": "ok"})
    if request.path not in ("/", ""):
        return error_response(NotFoundError(f"no route {request.path}"))
    if request.method != "POST":
        response = error_response(MethodNotAllowedError("post a CloudEvent to /"))
        response.headers["Allow"] = "POST"
        return response
    return None


def handle_full_load(request: Request) -> Response:
    """Entry point of the full_load function."""
    if (early := _probe_or_reject(request)) is not None:
        return early
    settings = get_settings()

    def run() -> Response:
        event = parse_event(request, frozenset({FULL_LOAD}))
        force = full_load_options(event.data)
        key = loads.EventKey(event.source, event.id)
        return json_response(loads.full_load(get_client(), settings, force=force, event=key))

    return guarded(run, settings.retry_after_s)


def handle_delta_load(request: Request) -> Response:
    """Entry point of the delta_load function."""
    if (early := _probe_or_reject(request)) is not None:
        return early
    settings = get_settings()

    def run() -> Response:
        parse_event(request, frozenset({PING, DELTA_LOAD}))
        return json_response(loads.delta_load(get_client(), settings))

    return guarded(run, settings.retry_after_s)
