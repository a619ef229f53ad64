"""The loaders' HTTP surface: CloudEvents in, CloudEvents out.

functions-framework's ``cloud_event`` signature always answers ``OK`` and drops
the return value, while the contract needs JSON reports and 4xx/409 answers, so
the loaders are HTTP functions that parse the CloudEvent themselves (binary and
structured mode, via the cloudevents SDK). Routing is werkzeug's ``Map``, as in the
search app: ``POST /`` takes an event, ``GET /health/live|ready`` answer probes.

Every answer with a body is a CloudEvent in binary mode (CONTRACT.md § Replies are
CloudEvents): a Knative Broker's filter turns a non-empty reply that is not a CloudEvent
into a 502 and retries it (knative/eventing pkg/broker/filter/filter_handler.go,
``writeResponse``). The JSON body stays the event's data, so curl users read the same.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping

from flask import Flask, Request, Response
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from hermes.client import get_client
from hermes.config import get_settings
from hermes.errors import MethodNotAllowedError, NotFoundError, UnsupportedEventTypeError
from hermes.load.delta import delta_load
from hermes.load.events import (
    CANCEL,
    CONTINUE,
    DELTA_LOAD,
    FULL_LOAD,
    PING,
    full_load_options,
    is_from_pingsource,
    parse_event,
    parse_undelivered,
    slice_ref,
)
from hermes.load.full import EventKey, cancel, give_up, resume, start
from hermes.load.handover import hand_over_for
from hermes.load.slices import SliceRef
from hermes.load.state import State
from hermes.responses import error_response, guarded, health_response, json_response
from hermes.settings import Settings

log = logging.getLogger(__name__)

ROUTES = Map(
    [
        Rule("/", endpoint="event", methods=["POST"]),
        # The dead-letter Broker's Trigger delivers here (delta_load only; see handle_delta_load).
        Rule("/undelivered", endpoint="undelivered", methods=["POST"]),
        Rule("/health/live", endpoint="health", methods=["GET"]),
        Rule("/health/ready", endpoint="health", methods=["GET"]),
    ],
    merge_slashes=False,
)
_URLS = ROUTES.bind("hermes")


def _route(
    request: Request,
    on_event: Callable[[], Mapping[str, object]],
    on_undelivered: Callable[[], None] | None = None,
) -> Response:
    """Dispatch one request; ``on_event`` runs the load for ``POST /``."""
    try:
        rule = _URLS.match(request.path, method=request.method, return_rule=True)[0]
    except NotFound:
        return error_response(NotFoundError(f"no route {request.path}"))
    except MethodNotAllowed as exc:
        allow = ", ".join(sorted(exc.valid_methods or ()))
        err = MethodNotAllowedError(f"{request.method} is not allowed here; post a CloudEvent to /")
        return error_response(err, headers={"Allow": allow})
    if rule.endpoint == "health":
        return health_response()
    if rule.endpoint == "undelivered":
        if on_undelivered is None:
            return error_response(NotFoundError("undelivered events go to the delta_load function"))
        # 204, no body: a reply would be a CloudEvent, which Knative sends back into the dead-letter Broker,
        # whose Trigger delivers it here again, forever (found by tests/deploy/test_dataplane.py).
        return guarded(lambda: _no_reply(on_undelivered), get_settings().retry_after_s)
    return guarded(lambda: json_response(on_event()), get_settings().retry_after_s)


def _no_reply(action: Callable[[], None]) -> Response:
    action()
    return Response(status=204)


def handle_full_load(request: Request) -> Response:
    """Entry point of the full_load function."""

    def run() -> Mapping[str, object]:
        settings = get_settings()
        event = parse_event(request, frozenset({FULL_LOAD, PING, CONTINUE, CANCEL}), settings.max_event_bytes)
        if event.type == CONTINUE:
            return resume(get_client(), settings, slice_ref(event.data), hand_over_for(settings, _giving_up(settings)))
        if event.type == CANCEL:
            return cancel(get_client(), settings, slice_ref(event.data, required=False).load or None)
        if event.type == PING and not is_from_pingsource(event, settings.full_ping_source):
            msg = f"a full load takes ticks only from the PingSource {settings.full_ping_source}, not {event.source}"
            raise UnsupportedEventTypeError(msg)
        force = full_load_options(event.data) if event.type == FULL_LOAD else False
        key = EventKey(event.source, event.id)
        return start(get_client(), settings, hand_over_for(settings, _giving_up(settings)), force=force, event=key)

    return _route(request, run)


def _giving_up(settings: Settings) -> Callable[[SliceRef], None]:
    """What the self hand-over does when its retries run out: end the load, as a dead letter would."""

    def end_load(ref: SliceRef) -> None:
        give_up(get_client(), settings, ref, "the hand-over to this function was not taken")

    return end_load


def handle_delta_load(request: Request) -> Response:
    """Entry point of the delta_load function."""

    def run() -> Mapping[str, object]:
        parse_event(request, frozenset({PING, DELTA_LOAD}), get_settings().max_event_bytes)
        return delta_load(get_client(), get_settings())

    def undelivered() -> None:
        event = parse_undelivered(request, get_settings().max_event_bytes)
        log.warning(
            "event undelivered",
            extra={
                "event_type": event.type,
                "source": event.source,
                "event_id": event.id,
                "error_code": event.error_code,
                "error_dest": event.error_dest,
            },
        )
        state = State(get_client(), get_settings().state_index)
        state.ensure()
        state.record_undelivered(event)
        # The Broker gave up on a slice (a hand-over, or the first event, which runs partition 0's first slice).
        ref = SliceRef(event.load, event.partition, event.slice) if event.load else None
        if ref is None and event.type in (FULL_LOAD, PING):
            started = state.event_load(event.source, event.id)
            ref = SliceRef(started, 0, None) if started else None
        if ref is not None:
            give_up(get_client(), get_settings(), ref, f"a slice was dead-lettered (HTTP {event.error_code})")

    return _route(request, run, undelivered)


REPORT = "dev.hermes.load.report"
ERROR = "dev.hermes.load.error"


def reply_as_cloudevents(app: Flask, function: str) -> None:
    """Make every answer of ``app`` that has a body a binary-mode CloudEvent from ``/hermes/<function>``."""

    def add_headers(response: Response) -> Response:
        if response.is_streamed or not response.get_data() or "Ce-Id" in response.headers:
            return response
        response.headers["Ce-Specversion"] = "1.0"
        response.headers["Ce-Type"] = REPORT if response.status_code < 400 else ERROR
        response.headers["Ce-Source"] = f"/hermes/{function}"
        response.headers["Ce-Id"] = uuid.uuid4().hex
        return response

    app.after_request(add_headers)
