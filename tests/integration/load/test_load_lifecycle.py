"""What a load owns — its lock, its source stream, its threads — against the real Elasticsearch.

Overlaps are arranged with the data source's gate (the load waits in its source read
until the test releases it), not with sleeps; the lock's TTL passes by moving the lock's
clock forward (tests/support/clock.py), not by waiting for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hermes.client import build_client
from hermes.errors import ErrorBudgetExceededError, LoadInProgressError, LockLostError
from hermes.load import indices
from hermes.load.full import full_load
from hermes.load.lock import LOCK_ID, LoadLock
from hermes.settings import Settings
from tests.support.clock import ShiftedClock
from tests.support.datasource import SourceBehaviour, record

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TTL_S = 1.5  # renewals every 0.5 s, each allowed 0.25 s


def _records(n: int) -> list[dict[str, Any]]:
    return [record(f"r{i}", T0 + timedelta(seconds=i)) for i in range(n)]


def _eventually(check: Callable[[], bool], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def settings(make_settings: Any, source: tuple[str, SourceBehaviour]) -> Settings:
    return make_settings(DATA_SOURCE_URL=source[0], HERMES_LOCK_TTL_S=TTL_S, HERMES_PRUNE_GRACE_S=0)  # type: ignore[no-any-return]


def test_a_load_longer_than_the_ttl_keeps_its_lock(
    es: Any, settings: Settings, source: Any, lock_clock: type[ShiftedClock]
) -> None:
    _, src = source
    src.put(*_records(5))
    lock = LoadLock(es, settings.state_index, TTL_S)
    src.hold()
    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(full_load, build_client(settings), settings)
        assert src.arrived.wait(30)
        taken = lock.current()
        assert taken is not None
        lock_clock.advance(2.5 * TTL_S)  # without renewal the lock would have expired twice over
        assert _eventually(lambda: (held := lock.current()) is not None and held.expires_at > lock_clock.now(UTC))
        held = lock.current()
        assert held is not None
        assert held.kind == "full_load"
        assert held.expires_at > taken.expires_at  # renewed by the heartbeat, past its first expiry
        with pytest.raises(LoadInProgressError):  # a second run cannot break it
            full_load(build_client(settings), settings)
        src.release()
        assert load.result()["status"] == "completed"
    assert lock.current() is None  # released at the end


def test_a_lost_lock_stops_the_load_before_the_swap(es: Any, settings: Settings, source: Any) -> None:
    _, src = source
    src.put(*_records(5))
    served = full_load(build_client(settings), settings)["index"]
    lost_before = LoadLock.lost_total
    src.hold()
    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(full_load, build_client(settings), settings)
        assert src.arrived.wait(30)
        # Another run takes the lock over, as one that broke it after a long outage would.
        es.delete(index=settings.state_index, id=LOCK_ID, refresh=True)
        es.create(
            index=settings.state_index,
            id=LOCK_ID,
            refresh=True,
            document={"kind": "full_load", "owner": "thief", "expires_at": "2999-01-01T00:00:00Z"},
        )
        assert _eventually(lambda: LoadLock.lost_total > lost_before)  # the heartbeat noticed
        src.release()
        with pytest.raises(LockLostError):
            load.result()
    assert indices.indices_behind(es, settings.es_index) == [served]
    assert set(indices.managed_indices(es, settings.es_index)) == {served}  # its half-built index is gone
    thief = LoadLock(es, settings.state_index, TTL_S).current()
    assert thief is not None
    assert thief.owner == "thief"  # the loser did not release the new holder's lock


def _load_threads() -> list[str]:
    names = ("hermes-prefetch", "hermes-bulk", "hermes-lock-heartbeat")
    return [t.name for t in threading.enumerate() if t.name.startswith(names)]


def test_a_failed_load_leaves_no_producer_thread_and_no_open_source(es: Any, make_settings: Any, source: Any) -> None:
    url, src = source
    settings = make_settings(DATA_SOURCE_URL=url, HERMES_MAX_FAILURES=10)
    src.put(*_records(20))
    served = full_load(build_client(settings), settings)["index"]
    assert _eventually(lambda: src.open_connections == 0)
    # Invalid records first, then a long valid tail the producer is still reading when the budget trips.
    src.records = {f"bad{i}": {"id": f"bad{i}"} for i in range(20)}
    src.put(*_records(30_000))
    with pytest.raises(ErrorBudgetExceededError):
        full_load(build_client(settings), settings)
    assert _load_threads() == []  # joined, not left to the garbage collector
    assert _eventually(lambda: src.open_connections == 0)  # the response (and its session) were closed
    assert indices.indices_behind(es, settings.es_index) == [served]
