"""A loader that fails: the Broker retries (values-e2e.yaml: 2 retries, 1 s apart), then sends the event to the
dead-letter Broker `hermes-dead-letter`, whose Trigger `hermes-undelivered` delivers it to delta_load's
`/undelivered` route, which records it in the state index (what `python -m hermes status` shows)."""

from __future__ import annotations

import time

import pytest

from tests.cluster.e2e import NAMESPACE, Release, post_event, say, until

pytestmark = pytest.mark.slow

DELTA_SOURCE = f"/apis/v1/namespaces/{NAMESPACE}/pingsources/hermes-delta"
SOURCE = "/cluster-test/dead-letters"


def _dead_lettered(
    loaded: Release, what: str, type_: str, data: dict[str, object], *, source: str, timeout_s: float
) -> tuple[dict[str, object], float]:
    """Post an event while the data source answers 500 (every read fails, so does the loader), then wait for
    /undelivered to record it; return that record and the seconds it took. The source is restored after."""
    loaded.source.status = 500
    started = time.monotonic()
    try:
        event_id = post_event(type_, data, source=source)

        def recorded() -> list[dict[str, object]]:
            return [e for e in loaded.undelivered() if e["event_id"] == event_id]

        (event, *_) = until(f"{what} recorded by /undelivered", recorded, timeout_s, every_s=5)
    finally:
        loaded.source.status = 200
    return event, time.monotonic() - started


def test_a_delta_that_fails_is_dead_lettered_and_recorded_by_the_undelivered_route(loaded: Release) -> None:
    # A tick as the delta PingSource sends it (the delta Trigger filters on that source), posted to the Broker.
    ping = {"reason": "cluster test"}
    event, took = _dead_lettered(
        loaded, "the failed delta", "dev.knative.sources.ping", ping, source=DELTA_SOURCE, timeout_s=420
    )
    assert event["event_type"] == "dev.knative.sources.ping"
    assert event["source"] == DELTA_SOURCE
    assert str(event["error_dest"]).startswith(f"http://hermes-delta-load.{NAMESPACE}.svc.cluster.local")
    assert str(event["error_code"]).startswith("5"), event
    say(
        f"failing delta -> retried -> dead-letter Broker -> /undelivered recorded it: {took:.0f} s "
        f"(last status {event['error_code']})"
    )


def test_a_full_load_that_fails_is_dead_lettered_and_its_load_ended(loaded: Release) -> None:
    served_before = loaded.served_count()
    # The full-load Trigger's own delivery: 5 retries from 2 s, doubling, each attempt with the loader's own
    # source retries first.
    event, took = _dead_lettered(
        loaded, "the failed full load", "dev.hermes.load.full", {}, source=SOURCE, timeout_s=600
    )
    event_id = str(event["event_id"])
    assert event["event_type"] == "dev.hermes.load.full"
    assert str(event["error_dest"]).startswith(f"http://hermes-full-load.{NAMESPACE}.svc.cluster.local")
    # An attempt fails on the source (5xx); a redelivery that meets the load's first partition still claimed
    # by an earlier attempt gets 409 (hermes/load/full.py, start), which Knative retries too: the last is either.
    assert str(event["error_code"]).startswith("5") or event["error_code"] == "409", event
    load = loaded.load_of(event_id)
    assert load is None or load.status == "failed", load
    assert loaded.served_count() == served_before, "the served index is untouched"
    say(
        f"failing full load -> retried -> dead-letter Broker -> /undelivered recorded it: {took:.0f} s "
        f"(last status {event['error_code']}, its load {load.status if load else 'never started'})"
    )
