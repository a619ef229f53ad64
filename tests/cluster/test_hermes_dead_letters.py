"""A loader that fails: the Broker retries (values-e2e.yaml: 2 retries, 1 s apart), then sends the event to the
dead-letter Broker `hermes-dead-letter`, whose Trigger `hermes-undelivered` delivers it to delta_load's
`/undelivered` route, which records it in the state index (what `python -m hermes status` shows)."""

from __future__ import annotations

import time

import pytest

from tests.cluster.e2e import NAMESPACE, Release, post_event, say, until

pytestmark = pytest.mark.slow

DELTA_SOURCE = f"/apis/v1/namespaces/{NAMESPACE}/pingsources/hermes-delta"


def test_a_delta_that_fails_is_dead_lettered_and_recorded_by_the_undelivered_route(loaded: Release) -> None:
    loaded.source.status = 500  # the source is down: every read fails, so does the delta
    started = time.monotonic()
    try:
        # A tick as the delta PingSource sends it (the delta Trigger filters on that source), posted to the Broker.
        event_id = post_event("dev.knative.sources.ping", {"reason": "cluster test"}, source=DELTA_SOURCE)

        def recorded() -> list[dict[str, object]]:
            return [e for e in loaded.undelivered() if e["event_id"] == event_id]

        (event, *_) = until("the failed delta recorded by /undelivered", recorded, 420, every_s=5)
    finally:
        loaded.source.status = 200
    took = time.monotonic() - started
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
    loaded.source.status = 500
    started = time.monotonic()
    try:
        event_id = post_event("dev.hermes.load.full", {})

        def recorded() -> list[dict[str, object]]:
            return [e for e in loaded.undelivered() if e["event_id"] == event_id]

        # The full-load Trigger's own delivery: 5 retries from 2 s, doubling, each attempt with the loader's
        # own source retries first.
        (event, *_) = until("the failed full load recorded by /undelivered", recorded, 600, every_s=5)
    finally:
        loaded.source.status = 200
    took = time.monotonic() - started
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
