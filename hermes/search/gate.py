"""A per-process bound on costly searches, so a few callers cannot take Elasticsearch from the rest.

Typo tolerance is the one part of a search whose cost grows with what the caller types: each fuzzy
word expands to up to 50 terms per field. Eight clients sending six misspelled words kept
Elasticsearch's search threads busy and made every other search wait. Here at most
``HERMES_COSTLY_SEARCHES`` such searches are in flight per instance; the others are answered at once
in their cheap form (the words as typed, no ``did_you_mean``) instead of queueing: a 200 that is a
little less forgiving, never a 504 for somebody else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# A typo-tolerant query is costly from this many words on; one or two words cost about a plain one.
COSTLY_WORDS = 3


class CostGate:
    """Non-blocking slots for costly searches."""

    def __init__(self, slots: int) -> None:
        self._slots = threading.BoundedSemaphore(slots)

    @contextmanager
    def costly(self) -> Iterator[bool]:
        """Whether a costly search may run now; the slot is held until the block ends."""
        admitted = self._slots.acquire(blocking=False)
        try:
            yield admitted
        finally:
            if admitted:
                self._slots.release()
