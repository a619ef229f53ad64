"""Bulk operations refused for want of an active primary (503), kept by one sink worker to send again.

A node that leaves takes the primaries it held; a building index has no replica to promote, so those
shards answer 503 ``unavailable_shards_exception`` until the node rejoins and recovers them from its disk.
"""

from __future__ import annotations

import logging
import time

from hermes.load.records import Operation

log = logging.getLogger(__name__)

# Sent again after 1 s, the wait doubling up to 10 s.
_MAX_SHARD_BACKOFF_S = 10.0


class ShardRetries:
    """One worker's operations refused for want of an active primary, to send again.

    Each is retried until ``wait_s`` after its first refusal; a worker takes the ones waiting before
    it reads more of the source, so at most about one chunk waits here at a time.
    """

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self.ops: list[Operation] = []
        self._first: dict[tuple[str, int], float] = {}
        self._backoff_s = 1.0

    def add(self, op: Operation) -> bool:
        """Queue ``op`` again; False once it has waited ``wait_s`` (it fails then)."""
        key = (op.id, op.version)
        first = self._first.setdefault(key, time.monotonic())
        if time.monotonic() - first > self.wait_s:
            del self._first[key]
            return False
        self.ops.append(op)
        return True

    def take(self) -> list[Operation]:
        """The queued operations, after the back-off."""
        log.warning(
            "bulk items sent again: their shard had no active primary",
            extra={"operations": len(self.ops), "backoff_s": self._backoff_s},
        )
        time.sleep(self._backoff_s)
        self._backoff_s = min(self._backoff_s * 2, _MAX_SHARD_BACKOFF_S)
        ops, self.ops = self.ops, []
        return ops

    def done(self, op: Operation) -> None:
        """``op`` was answered for good: forget it, and start the next back-off from 1 s."""
        if self._first.pop((op.id, op.version), None) is not None and not self._first:
            self._backoff_s = 1.0
