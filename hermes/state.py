"""The loaders' bookkeeping in a small state index: lock, watermark, events, dead letters.

The state index is named ``<alias>.hermes-state``: no ``<alias>-*`` pattern of the
data indices can match it, so pruning never touches it.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hermes.errors import LoadInProgressError
from hermes.mappings import STATE_MAPPINGS
from hermes.records import Rejected, format_rfc3339, parse_rfc3339

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)

LOCK_ID = "lock"
WATERMARK_ID = "watermark"


@dataclass(frozen=True)
class Lock:
    """A held load lock."""

    owner: str
    kind: str
    expires_at: datetime


class State:
    """Reads and writes the state documents of one alias."""

    def __init__(self, client: Elasticsearch, index: str) -> None:
        self.client = client
        self.index = index

    def ensure(self) -> None:
        """Create the state index if it does not exist (idempotent, race-safe)."""
        es = self.client.options(ignore_status=400)
        resp = es.indices.create(
            index=self.index,
            settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"},
            mappings=STATE_MAPPINGS,
        )
        if resp.meta.status == 400 and "already_exists" not in str(resp.body):
            msg = f"cannot create state index {self.index}: {resp.body}"
            raise RuntimeError(msg)

    # --- lock ----------------------------------------------------------------------------------

    def acquire(self, kind: str, ttl_s: float, now: datetime | None = None) -> Lock:
        """Take the one load lock; raise :class:`LoadInProgressError` if another holds it.

        A lock past its expiry belonged to a crashed run and is broken (compare-and-
        delete on its sequence number, so two breakers cannot both win).
        """
        now = now or datetime.now(UTC)
        lock = Lock(f"{socket.gethostname()}/{uuid.uuid4().hex}", kind, now + timedelta(seconds=ttl_s))
        body = {"kind": kind, "owner": lock.owner, "expires_at": format_rfc3339(lock.expires_at)}
        for _ in range(2):
            resp = self.client.options(ignore_status=409).create(
                index=self.index, id=LOCK_ID, document=body, refresh=True
            )
            if resp.meta.status != 409:
                return lock
            if not self._break_if_expired(now):
                break
        held = self.current_lock()
        msg = f"a {held.kind if held else 'load'} is already running"
        raise LoadInProgressError(msg)

    def current_lock(self) -> Lock | None:
        """The lock as stored (expired or not), or None."""
        doc = self._get(LOCK_ID)
        if doc is None:
            return None
        src = doc["_source"]
        return Lock(src["owner"], src["kind"], parse_rfc3339(src["expires_at"]))

    def _break_if_expired(self, now: datetime) -> bool:
        doc = self._get(LOCK_ID)
        if doc is None:
            return True
        if parse_rfc3339(doc["_source"]["expires_at"]) > now:
            return False
        log.warning("breaking expired lock", extra={"owner": doc["_source"]["owner"]})
        self.client.options(ignore_status=(404, 409)).delete(
            index=self.index, id=LOCK_ID, if_seq_no=doc["_seq_no"],
            if_primary_term=doc["_primary_term"], refresh=True,
        )  # fmt: skip
        return True

    def release(self, lock: Lock) -> None:
        """Release the lock if we still own it."""
        doc = self._get(LOCK_ID)
        if doc is None or doc["_source"]["owner"] != lock.owner:
            return
        self.client.options(ignore_status=(404, 409)).delete(
            index=self.index, id=LOCK_ID, if_seq_no=doc["_seq_no"],
            if_primary_term=doc["_primary_term"], refresh=True,
        )  # fmt: skip

    # --- watermark -----------------------------------------------------------------------------

    def watermark(self) -> datetime | None:
        """The delta watermark, or None before the first completed full load."""
        doc = self._get(WATERMARK_ID)
        return None if doc is None else parse_rfc3339(doc["_source"]["value"])

    def save_watermark(self, value: datetime, index: str) -> None:
        """Store the watermark (and which index it describes)."""
        self.client.index(
            index=self.index,
            id=WATERMARK_ID,
            document={"kind": "watermark", "value": format_rfc3339(value), "index": index,
                      "updated_at": format_rfc3339(datetime.now(UTC))},
            refresh=True,
        )  # fmt: skip

    # --- completed events ----------------------------------------------------------------------

    @staticmethod
    def event_key(source: str, event_id: str) -> str:
        digest = hashlib.sha256(f"{source}\x00{event_id}".encode()).hexdigest()
        return f"event-{digest}"

    def completed_event(self, source: str, event_id: str) -> dict[str, Any] | None:
        """The report of an event that already completed, or None."""
        doc = self._get(self.event_key(source, event_id))
        return None if doc is None else dict(doc["_source"]["report"])

    def remember_event(self, source: str, event_id: str, report: dict[str, Any]) -> None:
        self.client.index(
            index=self.index,
            id=self.event_key(source, event_id),
            document={"kind": "event", "source": source, "event_id": event_id, "report": report,
                      "updated_at": format_rfc3339(datetime.now(UTC))},
            refresh=True,
        )  # fmt: skip

    # --- dead letters --------------------------------------------------------------------------

    def add_dead_letters(self, load: str, rejected: list[Rejected]) -> None:
        """Keep rejected records' ids and reasons (never bodies) for an operator to review."""
        if not rejected:
            return
        from elasticsearch import helpers  # noqa: PLC0415

        now = format_rfc3339(datetime.now(UTC))
        helpers.bulk(
            self.client,
            (
                {"_index": self.index, "_source": {"kind": "dead_letter", "load": load,
                                                    "record_id": r.id, "reason": r.reason,
                                                    "updated_at": now}}
                for r in rejected
            ),
            refresh=True,
        )  # fmt: skip

    def dead_letters(self, limit: int = 100) -> tuple[int, list[dict[str, Any]]]:
        """How many dead letters there are, and the newest ``limit`` of them."""
        resp = self.client.options(ignore_status=404).search(
            index=self.index, query={"term": {"kind": "dead_letter"}},
            sort=[{"updated_at": "desc"}], size=limit, track_total_hits=True,
        )  # fmt: skip
        if resp.meta.status == 404:
            return 0, []
        return int(resp["hits"]["total"]["value"]), [h["_source"] for h in resp["hits"]["hits"]]

    def clear_dead_letters(self) -> int:
        """Forget every dead letter (after an operator fixed the source)."""
        from elasticsearch import helpers  # noqa: PLC0415

        ids = [h["_id"] for h in self.client.search(
            index=self.index, query={"term": {"kind": "dead_letter"}}, size=10_000, source=False
        )["hits"]["hits"]]  # fmt: skip
        # One bulk request, not one delete each (delete_by_query lives in a module minimal
        # distributions lack).
        actions = ({"_op_type": "delete", "_index": self.index, "_id": doc_id} for doc_id in ids)
        helpers.bulk(self.client, actions, refresh=True)
        return len(ids)

    def _get(self, doc_id: str) -> dict[str, Any] | None:
        resp = self.client.options(ignore_status=404).get(index=self.index, id=doc_id)
        return None if resp.meta.status == 404 else dict(resp.body)
