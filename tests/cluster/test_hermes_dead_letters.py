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
    say(f"failing delta -> retried -> dead-letter Broker -> /undelivered recorded it: {took:.0f} s "
        f"(last status {event['error_code']})")  # fmt: skip
