"""The PingSources: the delta tick reaches delta_load through the Broker and a change at the source becomes
searchable; the reconciliation PingSource `hermes-full` runs a full load the same way."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from scripts.cluster.knative import kubectl
from tests.cluster.e2e import NAMESPACE, Release, hit_ids, say, search, until
from tests.support.datasource import record

pytestmark = pytest.mark.slow

EVERY_MINUTE = "* * * * *"


def test_a_delta_tick_through_the_broker_makes_a_change_at_the_source_searchable(loaded: Release) -> None:
    schedule = kubectl("get", "pingsource", "hermes-delta", "-n", NAMESPACE, "-o", "jsonpath={.spec.schedule}")
    assert schedule.stdout == EVERY_MINUTE
    loaded.source.put(record("d0001", datetime.now(UTC), title="Zanzibar lighthouse"))
    started = time.monotonic()

    def found() -> bool:
        status, answer = search("Zanzibar lighthouse")
        return status == 200 and "d0001" in hit_ids(answer)

    until("the changed record searchable after a delta tick", found, 240, every_s=5)
    say(f"a change at the source searchable after {time.monotonic() - started:.0f} s (per-minute delta PingSource)")
    assert not [load for load in loaded.loads() if load.status == "running"], "a delta did it, not a full load"


def test_the_reconciliation_pingsource_runs_a_full_load(loaded: Release) -> None:
    source = f"/apis/v1/namespaces/{NAMESPACE}/pingsources/hermes-full"
    before = {load.id for load in loaded.loads()}
    patch = '{"spec": {"schedule": "%s"}}'
    schedule = kubectl("get", "pingsource", "hermes-full", "-n", NAMESPACE, "-o", "jsonpath={.spec.schedule}").stdout
    kubectl("patch", "pingsource", "hermes-full", "-n", NAMESPACE, "--type=merge", "-p", patch % EVERY_MINUTE)
    started = time.monotonic()
    try:

        def ticked() -> list[str]:
            return [load.id for load in loaded.loads() if load.event_source == source and load.id not in before]

        (load_id, *_) = until("a full load from the hermes-full PingSource", ticked, 240, every_s=5)
    finally:  # the schedule the release had, whatever happened
        kubectl("patch", "pingsource", "hermes-full", "-n", NAMESPACE, "--type=merge", "-p", patch % schedule)
    load = next(load for load in loaded.loads() if load.id == load_id)
    if load.status in ("running", "finishing"):
        load = loaded.ended(str(load.event_id), 600)
    assert load.status == "completed", load
    say(f"reconciliation tick -> completed full load: {time.monotonic() - started:.0f} s")
