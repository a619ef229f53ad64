"""Run a producer (source reading, parsing, validation) ahead of its consumer in a thread.

The bulk sink spends most of its time waiting on Elasticsearch with the GIL
released; prefetching lets the source be read and validated meanwhile. The queue
is bounded, so memory stays flat.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetch(items: Iterable[T], batch: int = 500, depth: int = 4) -> Iterator[T]:
    """Yield ``items`` as produced by a background thread, ``batch`` at a time."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(obj: object) -> bool:
        while not stop.is_set():
            try:
                q.put(obj, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            chunk: list[T] = []
            for item in items:
                chunk.append(item)
                if len(chunk) >= batch:
                    if not put(chunk):
                        return
                    chunk = []
            put(chunk)
            put(_DONE)
        except BaseException as exc:
            put(_Failed(exc))

    thread = threading.Thread(target=produce, name="hermes-prefetch", daemon=True)
    thread.start()
    try:
        while (got := q.get()) is not _DONE:
            if isinstance(got, _Failed):
                raise got.exc
            yield from got  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=5)
