"""Full loads on the cluster, each started as an operator does: one CloudEvent posted with curl to the Broker.

The release runs two partitions (values-e2e.yaml: load.partitions 2, fullLoad maxScale 2) and 10 s slices, so a
slow source makes a load that hands over through the Broker several times and that Knative spreads over
several full-load pods (containerConcurrency 1: one slice per pod). Durations are printed, not asserted.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from tests.cluster.e2e import Release, hit_ids, pods, post_event, say, search, until
from tests.support.datasource import record

pytestmark = pytest.mark.slow


def test_a_full_load_posted_with_curl_to_the_broker_completes(loaded: Release) -> None:
    now = datetime.now(UTC)
    loaded.source.put(*(record(f"v{i:04d}", now, title=f"Village {i:04d}") for i in range(40)))
    started = time.monotonic()
    event_id = post_event("dev.hermes.load.full", {})
    load = loaded.ended(event_id, 600)
    took = time.monotonic() - started
    assert load.status == "completed", load
    assert load.partitions == 2
    assert loaded.served_count() == len(loaded.source.records)
    _, answer = until("the new records searchable", lambda: (r := search("Village 0005"))[0] == 200 and r, 120)
    assert "v0005" in hit_ids(answer), answer
    size = len(loaded.source.records)
    say(f"full load of {size} records (2 partitions), posted to the Broker -> completed: {took:.0f} s")


def test_a_long_load_runs_in_several_slices_on_several_pods_and_completes_by_itself(loaded: Release) -> None:
    now = datetime.now(UTC)
    loaded.source.put(*(record(f"h{i:04d}", now, title=f"Hamlet {i:04d}") for i in range(200)))
    loaded.source.page_delay_s = 1.5  # 10 records a page: each partition reads for ~25 s, its slices 10 s
    most, together = 0, 0
    posted: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        """The most full-load pods at once, and the most slices running at once (state index, per partition)."""
        nonlocal most, together
        while not stop.is_set():
            most = max(most, len(pods("hermes-full-load")))
            load = loaded.load_of(posted[0]) if posted else None
            if load is not None:
                together = max(together, sum(1 for part in loaded.partitions(load) if part.running))
            stop.wait(1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        posted.append(post_event("dev.hermes.load.full", {}))
        load = loaded.ended(posted[0], 900)
    finally:
        took = time.monotonic() - started
        stop.set()
        watcher.join()
        loaded.source.page_delay_s = 0.0
    assert load.status == "completed", load
    slices = {part.partition: part.slice for part in loaded.partitions(load)}
    say(
        f"long load of {len(loaded.source.records)} records: {took:.0f} s, slices per partition {slices}, "
        f"at most {together} slices running at once on {most} full-load pods"
    )
    assert all(n >= 2 for n in slices.values()), f"every partition handed over at least once: {slices}"
    # containerConcurrency 1: two slices running at once are two pods serving at once.
    assert together >= 2, "the two partitions' slices ran at the same time"
    assert most >= 2, "Knative ran the two partitions' slices on two pods at once"
    assert loaded.served_count() == len(loaded.source.records)
