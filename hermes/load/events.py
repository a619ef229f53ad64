"""CloudEvents over HTTP (binary and structured mode) → typed load requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Request

from hermes.errors import BadEventError, UnsupportedEventTypeError

FULL_LOAD = "dev.hermes.load.full"
DELTA_LOAD = "dev.hermes.load.delta"
PING = "dev.knative.sources.ping"


@dataclass(frozen=True)
class Event:
    """The parts of a CloudEvent a loader uses."""

    type: str
    source: str
    id: str
    data: Any


def parse_event(request: Request, accepted: frozenset[str]) -> Event:
    """Read a CloudEvent from the request; 400-class errors for anything else."""
    from cloudevents.exceptions import GenericException  # noqa: PLC0415
    from cloudevents.http import from_http  # noqa: PLC0415

    try:
        event = from_http(dict(request.headers), request.get_data())
    except GenericException as exc:
        msg = f"the request is not a valid CloudEvent: {type(exc).__name__}"
        raise BadEventError(msg) from None
    kind = str(event["type"])
    if kind not in accepted:
        msg = f"unsupported event type {kind!r}; expected one of {sorted(accepted)}"
        raise UnsupportedEventTypeError(msg)
    return Event(kind, str(event["source"]), str(event["id"]), event.data)


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
