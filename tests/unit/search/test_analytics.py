"""The analytics recorder's queueing, batching, dropping and draining (pure: the sender is a list), and the
bulk body its sender hands to the transport."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from hermes.client import build_transport
from hermes.search.analytics import BulkSender, Recorder, SearchEvent, found_nothing, index_name, normalise
from hermes.settings import Settings

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _event(n: int) -> SearchEvent:
    return SearchEvent(f"q{n}", n, 1, AT)


class Sink:
    def __init__(self, refuse: int = 0, block: threading.Event | None = None) -> None:
        self.batches: list[list[SearchEvent]] = []
        self.refuse, self.block = refuse, block

    def __call__(self, events: list[SearchEvent]) -> int:
        if self.block is not None:
            self.block.wait(10)
        self.batches.append(events)
        return self.refuse


def test_queries_are_counted_in_one_form() -> None:
    assert normalise("  Paris\tFRANCE ") == normalise("paris france") == "paris france"
    assert normalise("\uff30\uff41\uff52\uff49\uff53") == "paris"  # NFKC: full-width letters
    assert normalise("STRASSE") == normalise("straße")  # case-folded, not just lowered
    assert index_name("documents.hermes-analytics", AT) == "documents.hermes-analytics-2026.11"


def test_close_writes_everything_queued_in_batches() -> None:
    sink, lost = Sink(), []
    recorder = Recorder(sink, capacity=100, batch=4, flush_s=3600, on_lost=lambda kind, n: lost.append((kind, n)))
    for n in range(10):
        recorder.record(_event(n))
    recorder.close()
    assert [e.query for b in sink.batches for e in b] == [f"q{n}" for n in range(10)]
    assert all(len(b) <= 4 for b in sink.batches)
    assert lost == []


def test_a_full_queue_drops_and_counts_instead_of_waiting() -> None:
    gate, lost = threading.Event(), []
    sink = Sink(block=gate)
    recorder = Recorder(sink, capacity=3, batch=1, flush_s=3600, on_lost=lambda kind, n: lost.append((kind, n)))
    recorder.record(_event(0))  # the thread takes it and blocks in the sender
    for _ in range(200):
        if recorder._queue.empty():
            break
        threading.Event().wait(0.01)
    for n in range(1, 8):  # three fit, four are dropped, and record() never blocks
        recorder.record(_event(n))
    assert lost == [("dropped", 1)] * 4
    gate.set()
    recorder.close()
    assert sum(len(b) for b in sink.batches) == 4


def test_refused_and_failed_batches_are_counted() -> None:
    lost: list[tuple[str, int]] = []
    refusing = Recorder(Sink(refuse=1), capacity=10, batch=5, flush_s=3600, on_lost=lambda k, n: lost.append((k, n)))
    refusing.record(_event(1))
    refusing.close()

    def down(_: list[SearchEvent]) -> int:
        raise ConnectionError

    failing = Recorder(down, capacity=10, batch=5, flush_s=3600, on_lost=lambda k, n: lost.append((k, n)))
    for n in range(3):
        failing.record(_event(n))
    failing.close()
    assert lost == [("failed", 1), ("failed", 3)]


def test_a_waiting_batch_wakes_the_thread_before_the_flush_interval() -> None:
    sink = Sink()
    recorder = Recorder(sink, capacity=10, batch=2, flush_s=3600, on_lost=lambda k, n: None)
    recorder.record(_event(1))
    recorder.record(_event(2))
    for _ in range(500):
        if sink.batches:
            break
        threading.Event().wait(0.01)
    assert [e.query for e in sink.batches[0]] == ["q1", "q2"]
    recorder.close()


class _Answer:
    def __init__(self, status: int, body: object) -> None:
        self.meta, self.body = type("Meta", (), {"status": status})(), body


class _Transport:
    """Records requests; answers each bulk item with ``create`` 201 (index creation: 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any, dict[str, str]]] = []

    def perform_request(self, method: str, path: str, *, body: Any, headers: dict[str, str]) -> _Answer:
        self.requests.append((method, path, body, headers))
        if path != "/_bulk":
            return _Answer(200, {"acknowledged": True})
        return _Answer(200, {"items": [{"create": {"status": 201}} for _ in body[::2]]})


def test_bulk_body_is_serialized_by_the_transports_ndjson_serializer() -> None:
    fake = _Transport()
    assert BulkSender(fake, "docs.hermes-analytics")([_event(0), _event(3)]) == 0
    method, path, body, headers = fake.requests[-1]
    assert (method, path, headers["content-type"]) == ("POST", "/_bulk", "application/x-ndjson")
    real = build_transport(Settings(ES_URL="http://127.0.0.1:9"))  # what the search function sends through
    lines = real.serializers.dumps(body, mimetype=headers["content-type"]).decode().splitlines()
    assert [json.loads(line) for line in lines[::2]] == [{"create": {"_index": "docs.hermes-analytics-2026.11"}}] * 2
    assert [json.loads(line)["query"] for line in lines[1::2]] == ["q0", "q3"]
    assert json.loads(lines[1])["zero"] is True


def test_a_search_cut_short_by_its_timeout_is_not_recorded_as_finding_nothing() -> None:
    fake = _Transport()
    BulkSender(fake, "docs.hermes-analytics")([SearchEvent("q", 0, 1500, AT, timed_out=True)])
    assert fake.requests[-1][2][1]["zero"] is False


@pytest.mark.parametrize(
    ("total", "timed_out", "nothing"), [(0, False, True), (0, True, False), (3, False, False), (3, True, False)]
)
def test_found_nothing_means_no_hits_from_a_search_that_ran_to_its_end(
    total: int, timed_out: bool, nothing: bool
) -> None:
    """The rule behind both the zero-results metric (hermes.search.app) and the analytics' ``zero``."""
    assert found_nothing(total, timed_out) is nothing


class _NoCreateIndex(_Transport):
    """A key without ``create_index``: every PUT is a 403, every bulk item a 404 (no such index)."""

    def perform_request(self, method: str, path: str, *, body: Any, headers: dict[str, str]) -> _Answer:
        self.requests.append((method, path, body, headers))
        if method == "PUT":
            return _Answer(403, {"error": {"type": "security_exception"}})
        return _Answer(200, {"items": [{"create": {"status": 404}} for _ in body[::2]]})


def test_a_refused_index_creation_is_tried_once_a_batch_then_backs_off() -> None:
    fake, now = _NoCreateIndex(), [0.0]
    send = BulkSender(fake, "docs.hermes-analytics", clock=lambda: now[0])
    puts = lambda: sum(1 for r in fake.requests if r[0] == "PUT")  # noqa: E731
    assert send([_event(i) for i in range(60)]) == 60  # every event lost and counted...
    assert puts() == 1  # ...for one PUT, not sixty
    for at, expected in ((4.9, 1), (5.0, 2), (14.9, 2), (15.0, 3), (35.0, 4)):  # back-off 5 s, 10 s, 20 s
        now[0] = at
        send([_event(1)])
        assert puts() == expected, at
    for _ in range(5):  # 80 s, 160 s, then 5 minutes at most
        now[0] += 1_000.0
        send([_event(1)])
    tried = puts()
    now[0] += 299.0
    send([_event(1)])
    assert puts() == tried  # the back-off stops growing at 5 minutes
    now[0] += 1.0
    send([_event(1)])
    assert puts() == tried + 1
