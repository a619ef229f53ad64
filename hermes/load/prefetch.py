"""Run a producer (source reading, parsing, validation) ahead of its consumer in a thread.

The bulk sink spends most of its time waiting on Elasticsearch with the GIL
released; prefetching lets the source be read and validated meanwhile. The queue
is bounded (``depth`` batches of ``batch`` items), so memory stays flat.

Ownership: the producer thread ``hermes-prefetch`` is the only thread that touches
the source iterator, so it is also the one that closes it (a generator cannot be
closed from another thread while it runs). :meth:`Prefetch.close` — called on every
exit path by ``with`` — tells the producer to stop, waits for it, and the producer
closes the source on its way out: the HTTP response and session, or the file.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

_DONE = object()
_PUT_POLL_S = 0.05
_JOIN_S = 30.0


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Prefetch(Generic[T]):
    """Iterate ``items`` as a background thread produces them, ``batch`` at a time."""

    def __init__(self, items: Iterator[T], batch: int = 500, depth: int = 4) -> None:
        self._items = items
        self._batch = batch
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="hermes-prefetch", daemon=True)

    def __enter__(self) -> Prefetch[T]:
        self._thread.start()
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.close()

    def __iter__(self) -> Iterator[T]:
        while (got := self._queue.get()) is not _DONE:
            if isinstance(got, _Failed):
                raise got.exc
            yield from got  # type: ignore[misc]

    def close(self) -> None:
        """Stop the producer and wait until it has closed the source."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=_JOIN_S)
        if self._thread.is_alive():  # blocked in a source read that has not timed out yet
            log.warning("prefetch thread still reading the source; it stops when the read returns")

    # --- the producer thread -------------------------------------------------------------------

    def _put(self, obj: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(obj, timeout=_PUT_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            chunk: list[T] = []
            for item in self._items:
                if self._stop.is_set():  # checked per item: stop reading the moment the consumer gave up
                    return
                chunk.append(item)
                if len(chunk) >= self._batch:
                    if not self._put(chunk):
                        return
                    chunk = []
            self._put(chunk)
            self._put(_DONE)
        except BaseException as exc:
            self._put(_Failed(exc))
        finally:
            self._close_source()

    def _close_source(self) -> None:
        close = getattr(self._items, "close", None)
        if close is None:
            return
        try:
            close()
        except Exception:  # logged as JSON here, not left to threading.excepthook's stderr
            log.exception("closing the data source failed")
