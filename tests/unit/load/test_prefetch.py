"""The prefetch thread owns the source: it closes it on every exit, and stops reading when told."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from hermes.load.prefetch import Prefetch


class Source:
    """A generator-like source that records how far it was read and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.read = 0
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        if self.read == self.fail_at:
            msg = "source broke"
            raise OSError(msg)
        if self.read >= self.n:
            raise StopIteration
        self.read += 1
        return self.read

    def close(self) -> None:
        self.closed.set()


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "hermes-prefetch"]


def test_everything_arrives_in_order_and_the_source_is_closed() -> None:
    source = Source(1234)
    with Prefetch(source, batch=100, depth=2) as items:
        assert list(items) == list(range(1, 1235))
    assert source.closed.is_set()
    assert _threads() == []


def test_a_source_error_reaches_the_consumer_and_the_source_is_still_closed() -> None:
    source = Source(1000, fail_at=250)
    with pytest.raises(OSError, match="source broke"), Prefetch(source, batch=100) as items:
        list(items)
    assert source.closed.is_set()
    assert _threads() == []


def test_a_consumer_that_gives_up_stops_the_reading() -> None:
    source = Source(10_000_000)
    with Prefetch(source, batch=10, depth=2) as items:
        for n in items:
            if n == 50:
                break
    assert source.closed.is_set()
    assert _threads() == []
    assert source.read < 200  # the queue's worth and the item in hand, not the rest of the source
