"""The hand-over: a slice that stops before its partition ends asks for the next one with a CloudEvent.

CONTRACT.md § Long loads: ``dev.hermes.load.full.continue`` goes to the sink Knative gives the function
(``K_SINK``: a SinkBinding or the chart points it at the Broker, whose Trigger brings it back to
full_load with the Broker's retries and dead letters), or, with no sink (``make dev``, tests), to the
function itself on its own ``PORT``.

- To a sink: sent before the slice answers, retried by urllib3's ``Retry``; a sink that refuses it makes
  the slice answer 503, so the slice's own event is redelivered, finds its work checkpointed and sends
  the hand-over again (a duplicate hand-over is answered as a duplicate).
- To itself: a daemon thread posts it and waits for the answer like a Broker's dispatcher would,
  retrying what Knative retries (connection errors, 404, 408, 409, 429, 5xx) with a doubling back-off, up to
  ``HERMES_SLICE_ATTEMPTS`` times. The event's id names the slice, so retries are recognised.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from hermes.errors import UnavailableError
from hermes.load.events import CONTINUE
from hermes.load.slices import SliceRef
from hermes.settings import Settings

log = logging.getLogger(__name__)

SOURCE = "/hermes/full_load"
_RETRIED = frozenset({404, 408, 409, 429})

HandOver = Callable[[SliceRef], None]


def event_of(ref: SliceRef) -> tuple[dict[str, str], bytes]:
    """The hand-over as binary-mode CloudEvent headers and JSON data."""
    headers = {
        "Ce-Specversion": "1.0",
        "Ce-Type": CONTINUE,
        "Ce-Source": SOURCE,
        "Ce-Id": f"{ref.load}-p{ref.partition}-s{ref.slice}",
        "Content-Type": "application/json",
    }
    return headers, json.dumps({"load": ref.load, "partition": ref.partition, "slice": ref.slice}).encode()


def hand_over_for(settings: Settings, on_give_up: HandOver) -> HandOver:
    """How this function hands over: to ``K_SINK`` when Knative gives one, else to itself (calling
    ``on_give_up`` when its retries run out, as a Broker would dead-letter the event)."""
    if settings.k_sink:
        sink = settings.k_sink
        return lambda ref: _to_sink(sink, ref)
    url, patience = f"http://127.0.0.1:{settings.port}/", settings.slice_s + 600
    return lambda ref: _start_thread(url, ref, (settings.slice_attempts, patience), on_give_up)


def _to_sink(url: str, ref: SliceRef) -> None:
    headers, body = event_of(ref)
    retry = Retry(total=4, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None)
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        try:
            resp = session.post(url, data=body, headers=headers, timeout=30)
        except requests.RequestException as exc:
            msg = f"the hand-over to K_SINK failed ({type(exc).__name__}); the slice's event will be redelivered"
            raise UnavailableError(msg) from None
    if resp.status_code >= 300:
        msg = f"K_SINK refused the hand-over with HTTP {resp.status_code}; the slice's event will be redelivered"
        raise UnavailableError(msg)
    log.info("handed over", extra={"load": ref.load, "partition": ref.partition, "slice": ref.slice, "to": "sink"})


def _start_thread(url: str, ref: SliceRef, limits: tuple[int, float], on_give_up: HandOver) -> None:
    name = f"hermes-handover-{ref.partition}"
    threading.Thread(target=_to_self, args=(url, ref, limits, on_give_up), name=name, daemon=True).start()


def _to_self(url: str, ref: SliceRef, limits: tuple[int, float], on_give_up: HandOver) -> None:
    attempts, patience = limits
    headers, body = event_of(ref)
    for attempt in range(1, attempts + 1):
        try:
            status = requests.post(url, data=body, headers=headers, timeout=(5, patience)).status_code
        except requests.RequestException as exc:
            status, error = 0, type(exc).__name__
        else:
            error = ""
        if status and status < 300:
            return
        if status and status < 500 and status not in _RETRIED:
            break
        log.warning(
            "hand-over not taken; retrying",
            extra={"load": ref.load, "partition": ref.partition, "status": status, "exc": error, "attempt": attempt},
        )
        time.sleep(min(2.0**attempt, 60.0))
    log.error("hand-over given up", extra={"load": ref.load, "partition": ref.partition, "slice": ref.slice})
    try:
        on_give_up(ref)
    except Exception as exc:  # Elasticsearch away too: the load stays running until its lock expires
        log.error("giving up the load failed", extra={"load": ref.load, "exc": type(exc).__name__})
