"""The sink both loaders share: operations → ``helpers.streaming_bulk`` → counted outcomes.

Threading model::

    Prefetch (one iterator) ══▶ _actions() ──▶ streaming_bulk ──▶ Elasticsearch _bulk
                           ╚══▶ _actions() ──▶ streaming_bulk ──▶ Elasticsearch _bulk
                                 worker threads "hermes-bulk-<n>" (HERMES_BULK_WORKERS)
                                         │ per-item results
                                         ▼
                              _account() under _lock ──▶ Outcome + ErrorBudget

- ``_source_lock`` serialises ``next()`` on the shared iterator (the prefetch queue);
  it is separate from ``_lock`` so a worker waiting on the source never stalls the
  accounting of another worker's results.
- ``_lock`` guards everything the workers share: ``_pending`` (operations in flight by
  id), ``outcome`` and ``budget``.
- The calling thread only starts the workers, joins them and raises the first error;
  the first error sets ``stop`` so the other workers take nothing more.

Watermark rules (pinned by tests/unit/load/test_sink.py):

- an item that succeeded, or was refused as older than the stored version (409), is
  *done*: ``outcome.newest_done`` may move past it;
- an item that failed transiently (429, 5xx) *blocks*: ``outcome.oldest_failed`` holds
  the watermark at its ``updated_at`` so the next delta reads it again;
- an item refused permanently (other 4xx: mapping, size) is dead-lettered and counts as
  done, so one bad record cannot hold the watermark forever;
- an item refused because its shard has no active primary (503: the node holding it left) is
  sent again by the same worker, with back-off, for up to ``HERMES_SHARD_WAIT_S``; only then
  does it count as failed (and block). Each bulk waits up to ``_bulk_timeout`` for the primary
  itself, so a node that rejoins within that time costs no failure at all;
- when one id is in flight twice and a copy fails, the result cannot say which copy:
  the watermark is held at the older one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hermes.errors import UnavailableError
from hermes.load.budget import ErrorBudget
from hermes.load.records import Operation, Rejected
from hermes.load.shard_retries import ShardRetries
from hermes.settings import Settings
from hermes.timestamps import format_rfc3339

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)

# 429 answers are retried by streaming_bulk, backoff doubling from 1 s, capped at 30 s.
_MAX_429_RETRIES = 8
_MAX_BACKOFF_S = 30.0


@dataclass
class Outcome:
    """What a run did, item by item, reduced to counts and watermark bounds."""

    indexed: int = 0
    created: int = 0
    deleted: int = 0
    stale: int = 0
    invalid: int = 0
    failed: int = 0
    dead_letters: list[Rejected] = field(default_factory=list)
    newest_done: datetime | None = None
    oldest_failed: datetime | None = None

    @property
    def skipped(self) -> int:
        """Records not applied on purpose: invalid, or older than what is stored."""
        return self.stale + self.invalid

    def done(self, when: datetime) -> None:
        if self.newest_done is None or when > self.newest_done:
            self.newest_done = when

    def blocked(self, when: datetime) -> None:
        if self.oldest_failed is None or when < self.oldest_failed:
            self.oldest_failed = when


_DEAD_LETTER_CAP = 1000


class Sink:
    """Writes operations into one index with external versions; never holds a whole load."""

    def __init__(
        self, client: Elasticsearch, index: str, settings: Settings, budget: ErrorBudget | None = None
    ) -> None:
        """``client`` carries the loaders' request timeout already (``pipeline.loader_client``); ``budget``
        carries what earlier slices of a load spent."""
        self.client = client
        self.index = index
        self.settings = settings
        self.budget = budget or ErrorBudget.from_settings(settings)
        self.outcome = Outcome()
        self._pending: dict[str, list[Operation]] = {}
        self._lock = threading.Lock()
        self._source_lock = threading.Lock()

    def write(self, items: Iterable[Operation | Rejected]) -> Outcome:
        """Stream every item; return the outcome (raises when the budget is exceeded).

        ``workers`` threads each run ``streaming_bulk`` (with its 429 retries) over one
        shared iterator; the first error stops them all and is raised here.
        """
        shared = iter(items)
        stop = threading.Event()
        errors: list[BaseException] = []

        def work() -> None:
            retries = ShardRetries(self.settings.shard_wait_s)
            try:
                self._stream(self._actions(shared, stop, retries), retries)
                while retries.ops and not stop.is_set():  # refused in the last chunks, after the source ended
                    self._stream(self._actions(iter(()), stop, retries), retries)
            except BaseException as exc:
                errors.append(exc)
                stop.set()

        # Several bulk requests in flight: while one waits on Elasticsearch the next is being
        # serialised, so the cluster never idles between chunks (docs/benchmarks.md).
        workers = self.settings.bulk_workers
        threads = [threading.Thread(target=work, name=f"hermes-bulk-{n}") for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return self.outcome

    def _stream(self, actions: Iterator[dict[str, Any]], retries: ShardRetries) -> None:
        from elasticsearch import helpers  # noqa: PLC0415 - heavy import, loaders only

        results = helpers.streaming_bulk(
            self.client,
            actions,
            chunk_size=self.settings.bulk_chunk_docs,
            max_chunk_bytes=self.settings.bulk_chunk_bytes,
            raise_on_error=False,
            max_retries=_MAX_429_RETRIES,
            initial_backoff=1,
            max_backoff=_MAX_BACKOFF_S,
            yield_ok=True,
            # `index` is always an alias (the served one, or a full load's writer alias): a write to
            # an alias that vanished fails instead of auto-creating an index with dynamic mappings.
            require_alias=True,
            # Below the client's request timeout: a bulk waiting for a missing primary is answered 503
            # per item (and retried) before the client gives up on the whole request.
            timeout=_bulk_timeout(self.settings),
        )
        for ok, info in results:
            with self._lock:
                self._account(ok, info, retries)

    def _actions(
        self, shared: Iterator[Operation | Rejected], stop: threading.Event, retries: ShardRetries
    ) -> Iterator[dict[str, Any]]:
        while not stop.is_set():
            if retries.ops:
                for op in retries.take():
                    with self._lock:
                        self._pending.setdefault(op.id, []).append(op)
                    yield _action(self.index, op)
                continue
            with self._source_lock:  # apart from _lock: waiting on the source must not stall accounting
                item = next(shared, None)
            if item is None:
                return
            with self._lock:
                self.budget.read(valid=not isinstance(item, Rejected))
                if isinstance(item, Rejected):
                    self._reject(item)
                    continue
                self._pending.setdefault(item.id, []).append(item)
            yield _action(self.index, item)

    def _reject(self, item: Rejected) -> None:
        self.outcome.invalid += 1
        if len(self.outcome.dead_letters) < _DEAD_LETTER_CAP:
            self.outcome.dead_letters.append(item)
        log.warning("record rejected", extra={"record_id": item.id, "reason": item.reason})
        self.budget.fail()

    def _account(self, ok: bool, info: dict[str, Any], retries: ShardRetries) -> None:
        result = info.get("index", {})
        status = int(result.get("status", 0))
        if not ok and status == 503 and self._retry(str(result.get("_id")), retries):
            return
        op = self._pop(str(result.get("_id")), failed=not ok and status != 409)
        if op is not None:
            retries.done(op)
        if ok:
            self.outcome.created += result.get("result") == "created"
            if op is not None and op.deleted:
                self.outcome.deleted += 1
            else:
                self.outcome.indexed += 1
        elif status == 409:
            self.outcome.stale += 1
        else:
            self._failed(op, result)
            return
        self.budget.ok()
        if op is not None:
            self.outcome.done(op.updated_at)

    def _retry(self, doc_id: str, retries: ShardRetries) -> bool:
        """Queue the operation a 503 answers again; False when it has waited long enough (it fails).

        With one id in flight twice the answer cannot say which copy it refused: the newest is sent
        again, which is right either way (external versions: it wins, or it is stale).
        """
        ops = self._pending.get(doc_id)
        if not ops or not retries.add(max(ops, key=lambda o: o.version)):
            return False
        ops.pop(0)
        if not ops:
            del self._pending[doc_id]
        return True

    def _pop(self, doc_id: str, *, failed: bool) -> Operation | None:
        """The in-flight operation a bulk result answers (the oldest, if an id is in flight twice)."""
        ops = self._pending.get(doc_id)
        if not ops:
            return None
        if failed and len(ops) > 1:  # cannot tell which copy failed: hold the watermark for the oldest
            self.outcome.blocked(min(o.updated_at for o in ops))
        op = ops.pop(0)
        if not ops:
            del self._pending[doc_id]
        return op

    def _failed(self, op: Operation | None, result: dict[str, Any]) -> None:
        error = result.get("error") or {}
        kind = error.get("type", "unknown") if isinstance(error, dict) else str(error)
        reason = error.get("reason", "") if isinstance(error, dict) else ""
        if kind == "index_not_found_exception":  # the index went away: nothing more can be written
            msg = f"{self.index} no longer exists (deleted during the load?); run a full load"
            raise UnavailableError(msg)
        log.warning(
            "bulk item failed",
            extra={
                "record_id": result.get("_id"),
                "status": result.get("status"),
                "error_type": kind,
                "reason": reason,
            },
        )
        self.outcome.failed += 1
        status = int(result.get("status", 500))
        if op is not None:
            if status >= 500 or status == 429:
                self.outcome.blocked(op.updated_at)
            else:  # permanent (mapping, size): dead-letter it so it cannot block forever
                self.outcome.dead_letters.append(Rejected(op.id, f"{kind}: {reason}", format_rfc3339(op.updated_at)))
                self.outcome.done(op.updated_at)
        self.budget.fail()


def _action(index: str, op: Operation) -> dict[str, Any]:
    return {
        "_op_type": "index",
        "_index": index,
        "_id": op.id,
        "version": op.version,
        "version_type": "external",
        "_source": op.document,
    }


def _bulk_timeout(settings: Settings) -> str:
    """How long Elasticsearch holds a bulk item for an unavailable primary: half the client's timeout."""
    return f"{max(1, int(settings.es_bulk_timeout_s * 500))}ms"
