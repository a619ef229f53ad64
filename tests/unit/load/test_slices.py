"""The pure parts of sliced loads: where a slice stops, partition URLs, hand-over events, counts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hermes.errors import BadEventError
from hermes.load.checkpoints import Tally
from hermes.load.cursor import PAGE_END, Partition, with_query
from hermes.load.events import slice_ref
from hermes.load.handover import event_of
from hermes.load.sink import Outcome
from hermes.load.slices import SliceClock, SliceRef, cut


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _pages(clock: Clock, pages: int, size: int, step: float) -> Iterator[object]:
    for page in range(pages):
        for item in range(size):
            clock.now += step
            yield (page, item)
        yield PAGE_END


def test_a_slice_stops_at_the_first_page_end_after_its_time() -> None:
    clock = Clock()
    taken = list(cut(_pages(clock, pages=30, size=5, step=1.0), SliceClock(102, clock)))
    # Due at 102 s, inside page 20 (records at 101-105 s); its end comes before the grace (10.2 s) runs out.
    assert taken == [(p, i) for p in range(21) for i in range(5)]


def test_a_slice_stops_mid_page_past_its_grace() -> None:
    clock = Clock()
    taken = list(cut(_pages(clock, pages=1, size=1000, step=1.0), SliceClock(20, clock)))
    assert len(taken) == 22  # due at 20 s, overdue 2 s later (a tenth of the slice, at least 1 s)


def test_page_ends_never_reach_the_sink() -> None:
    clock = Clock()
    assert PAGE_END not in list(cut(_pages(clock, pages=3, size=2, step=0.0), SliceClock(5, clock)))


def test_a_partition_url_keeps_the_source_query_byte_for_byte() -> None:
    url = "https://src.example/records?key=a%20b&x=1"
    assert Partition(2, 4).first_url(url) == url + "&partition=2&partitions=4"
    assert Partition(0, 1).first_url(url) == url  # one partition: any source works
    assert with_query("http://h/r", since="2026-01-01T00:00:00Z") == "http://h/r?since=2026-01-01T00%3A00%3A00Z"


@given(st.integers(1, 16), st.integers(0, 500))
def test_every_file_record_is_in_exactly_one_partition(count: int, position: int) -> None:
    assert sum(Partition(i, count).holds(position) for i in range(count)) == 1


def test_the_hand_over_event_names_its_slice() -> None:
    headers, body = event_of(SliceRef("2026", 3, 7))
    assert headers["Ce-Type"] == "dev.hermes.load.full.continue"
    assert headers["Ce-Id"] == "2026-p3-s7"
    assert slice_ref(__import__("json").loads(body)) == SliceRef("2026", 3, 7)


@pytest.mark.parametrize(
    ("data", "parameter"),
    [
        (None, None),
        ([], None),
        ({"load": 5}, "load"),
        ({"load": "x"}, "load"),
        ({"load": "1", "partition": True}, "partition"),
        ({"load": "1", "slice": -1}, "slice"),
    ],
)
def test_a_bad_hand_over_is_refused_naming_its_field(data: object, parameter: str | None) -> None:
    with pytest.raises(BadEventError) as caught:
        slice_ref(data)
    assert caught.value.parameter == parameter


def test_only_load_is_required() -> None:
    assert slice_ref({"load": "42"}) == SliceRef("42", 0, None)
    assert slice_ref(None, required=False) == SliceRef("")


def test_counts_add_up_over_slices_and_partitions() -> None:
    first, second = Tally(), Tally()
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    first.add(Outcome(indexed=3, created=3, stale=1, newest_done=early), read=4, resumed=False)
    first.add(Outcome(indexed=2, created=1, stale=1, newest_done=late), read=3, resumed=True)
    second.add(Outcome(indexed=1, created=1, failed=1, oldest_failed=early), read=2, resumed=False)
    both = first.merged(second)
    assert (both.read, both.indexed, both.created, both.stale, both.replayed, both.failed) == (9, 6, 5, 2, 1, 1)
    assert both.newest_done == "2026-02-01T00:00:00.000000Z"
    assert both.oldest_failed == "2026-01-01T00:00:00.000000Z"
