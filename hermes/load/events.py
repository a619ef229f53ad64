"""CloudEvents over HTTP (binary and structured mode) → typed load requests."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from flask import Request

from hermes.errors import BadEventError, PayloadTooLargeError, UnsupportedEventTypeError
from hermes.load.slices import SliceRef
from hermes.load.state import Undelivered

FULL_LOAD = "dev.hermes.load.full"
CONTINUE = "dev.hermes.load.full.continue"
CANCEL = "dev.hermes.load.full.cancel"
DELTA_LOAD = "dev.hermes.load.delta"
PING = "dev.knative.sources.ping"


@dataclass(frozen=True)
class Event:
    """The parts of a CloudEvent a loader uses."""

    type: str
    source: str
    id: str
    data: Any


def read_body(request: Request, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (``HERMES_MAX_EVENT_BYTES``); 413 past it.

    A refused body is not read further. functions-framework drains every request body
    after the response (``read_request`` in functions_framework/__init__.py calls
    ``request.get_data()``); werkzeug's ``get_data`` returns ``_cached_data`` when set, so
    the refusal leaves an empty one behind instead of pulling 300 MB into memory, and
    gunicorn discards the unread rest in small chunks.
    """
    length = request.content_length
    data = b"" if length is not None and length > limit else request.stream.read(limit + 1)
    if (length is not None and length > limit) or len(data) > limit:
        request._cached_data = b""  # see the docstring
        msg = f"the event is over {limit} bytes (HERMES_MAX_EVENT_BYTES)"
        raise PayloadTooLargeError(msg)
    request._cached_data = data  # get_data() returns it from now on
    return data


def parse_event(request: Request, accepted: frozenset[str], max_bytes: int = 65536) -> Event:
    """Read a CloudEvent from the request; 400-class errors for anything else."""
    from cloudevents.exceptions import GenericException  # noqa: PLC0415
    from cloudevents.http import from_http  # noqa: PLC0415

    body = read_body(request, max_bytes)
    try:
        event = from_http(dict(request.headers), body)
        attributes = {name: event.get(name) for name in ("type", "source", "id")}
    # The SDK lets more than its own exceptions through on hostile input: a non-UTF-8 body,
    # `specversion` as a list, nesting past the recursion limit.
    except (GenericException, ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        msg = f"the request is not a valid CloudEvent: {type(exc).__name__}"
        raise BadEventError(msg) from None
    for name, value in attributes.items():
        if not isinstance(value, str) or not value:
            msg = f"the CloudEvent attribute {name!r} must be a non-empty string"
            raise BadEventError(msg, parameter=name)
    kind = attributes["type"]
    if kind not in accepted:
        msg = f"unsupported event type {kind!r}; expected one of {sorted(accepted)}"
        raise UnsupportedEventTypeError(msg)
    return Event(kind, str(attributes["source"]), str(attributes["id"]), event.data)


def parse_undelivered(request: Request, max_bytes: int) -> Undelivered:
    """Read a dead-lettered CloudEvent; its type may be anything."""
    from cloudevents.exceptions import GenericException  # noqa: PLC0415
    from cloudevents.http import from_http  # noqa: PLC0415

    body = read_body(request, max_bytes)
    try:
        event = from_http(dict(request.headers), body)
    except (GenericException, ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        msg = f"the request is not a valid CloudEvent: {type(exc).__name__}"
        raise BadEventError(msg) from None
    data = event.get("knativeerrordata")
    kind = str(event.get("type"))
    ref = _dead_ref(kind, event.data)
    return Undelivered(
        kind,
        str(event.get("source")),
        str(event.get("id")),
        _text(event.get("knativeerrorcode")),
        _text(event.get("knativeerrordest")),
        _decoded(data) if isinstance(data, str) else None,
        ref.load if ref else None,
        ref.partition if ref else 0,
        ref.slice if ref else None,
    )


def _dead_ref(kind: str, data: Any) -> SliceRef | None:
    """The slice a dead-lettered hand-over asked for (None for other events, or data not ours)."""
    if kind != CONTINUE:
        return None
    try:
        return slice_ref(data)
    except BadEventError:
        return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)[:500]


def _decoded(data: str) -> str:
    try:
        return base64.b64decode(data, validate=True).decode("utf-8", "replace")[:500]
    except ValueError:
        return data[:500]


def is_from_pingsource(event: Event, name: str) -> bool:
    """Whether ``event`` is a tick of the PingSource ``name`` (in any namespace).

    PingSource ticks carry ``source: /apis/v1/namespaces/<ns>/pingsources/<name>``
    (knative/eventing pkg/adapter/mtping: ``sourcesv1.PingSourceSource(namespace, name)``).
    """
    return (
        re.fullmatch(rf"/apis/v1/namespaces/[a-z0-9][a-z0-9-]*/pingsources/{re.escape(name)}", event.source) is not None
    )


def full_load_options(data: Any) -> bool:
    """``force`` from the optional ``{"force": bool}`` data of a full-load event."""
    if data in (None, b"", ""):
        return False
    if not isinstance(data, dict):
        msg = 'full-load event data must be a JSON object like {"force": true}'
        raise BadEventError(msg)
    force = data.get("force", False)
    if not isinstance(force, bool):
        msg = "force must be true or false"
        raise BadEventError(msg, parameter="force")
    return force


def slice_ref(data: Any, *, required: bool = True) -> SliceRef:
    """The slice a ``dev.hermes.load.full.continue`` event asks for: ``{"load", "partition"?, "slice"?}``.

    Only ``load`` is required (CONTRACT.md § Long loads); without ``slice`` the partition's due slice
    runs, so an operator can nudge a load on by hand. ``required=False`` (a cancel event) accepts no data.
    """
    if data in (None, b"", "") and not required:
        return SliceRef("")
    if not isinstance(data, dict):
        msg = 'the event data must be a JSON object like {"load": "<load id>"}'
        raise BadEventError(msg)
    load, partition, number = data.get("load"), data.get("partition", 0), data.get("slice")
    if not isinstance(load, str) or not re.fullmatch(r"[0-9]{1,40}", load):
        msg = "load must be the id of a full load (digits, as its reports give it)"
        raise BadEventError(msg, parameter="load")
    for name, value in (("partition", partition), ("slice", number)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**9):
            msg = f"{name} must be a whole number from 0"
            raise BadEventError(msg, parameter=name)
    return SliceRef(load, partition, number)
