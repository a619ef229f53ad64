"""The one load lock: a document in the state index, renewed while held.

``LoadLock.held(kind)`` is the only way to take it::

    with LoadLock(client, settings.state_index, settings.lock_ttl_s).held("full_load") as lease:
        ...                 # a heartbeat thread renews the lock every ttl/3
        lease.check()       # before anything irreversible: raises LockLostError if it was lost

Taking it is a ``create`` of the document ``lock`` (``op_type=create``: exactly one
creator wins). A lock whose ``expires_at`` has passed belonged to a crashed run and is
broken with a compare-and-delete on its sequence number, so two breakers cannot both
win. While held, the heartbeat thread ``hermes-lock-heartbeat`` pushes ``expires_at``
forward with a compare-and-set on the sequence number of its last write: a run that
outlives the TTL keeps its lock. ``lease.check()`` fails once no renewal has succeeded
for three quarters of the TTL (another run may break the lock after the TTL) or a
renewal found another holder, so a load never swaps or saves a watermark on a lock it
cannot prove is still its own. Release is a compare-and-delete too: it never removes
another run's lock.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from hermes.errors import LoadInProgressError, LockLostError
from hermes.load.state import read_doc
from hermes.timestamps import format_rfc3339, parse_rfc3339

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)

LOCK_ID = "lock"


@dataclass(frozen=True)
class LockInfo:
    """The lock as stored, for operators and error messages."""

    owner: str
    kind: str
    expires_at: datetime


class Lease:
    """A held lock. Written by the heartbeat thread, read by the load."""

    def __init__(self, owner: str, kind: str, seq_no: int, primary_term: int, valid_until: float) -> None:
        self.owner = owner
        self.kind = kind
        self.seq_no = seq_no
        self.primary_term = primary_term
        self.valid_until = valid_until  # time.monotonic() past which another run may break the lock
        self.lost = threading.Event()
        self.keep = False  # leave the lock held when the block ends (a sliced load between slices)

    def check(self) -> None:
        """Raise :class:`LockLostError` unless the lock is provably still ours.

        Lost means a renewal found another holder, or no renewal has succeeded for so
        long that another run may have broken the lock (Elasticsearch slow or unreachable).
        """
        if self.lost.is_set() or time.monotonic() > self.valid_until:
            msg = f"the {self.kind} cannot prove it still holds the load lock; it stops before its last step"
            raise LockLostError(msg)


class LoadLock:
    """The load lock of one state index."""

    lost_total: ClassVar[int] = 0  # leases lost in this process (logged as they happen)

    def __init__(
        self,
        client: Elasticsearch,
        index: str,
        ttl_s: float,
        *,
        renew_every_s: float | None = None,
        lock_id: str = LOCK_ID,
    ) -> None:
        self.client = client
        self.index = index
        self.ttl_s = ttl_s
        self.renew_every_s = renew_every_s if renew_every_s is not None else ttl_s / 3
        self.lock_id = lock_id

    @contextmanager
    def held(self, kind: str, *, owner: str | None = None) -> Iterator[Lease]:
        """Hold the lock for the block; raise :class:`LoadInProgressError` if another run holds it.

        With ``owner`` the lock belongs to that name rather than to this run: a lock stored under the
        same owner is adopted (a sliced full load's requests, one after another or side by side, share
        the load's lock), and ``lease.keep = True`` leaves it held after the block for the next slice.
        """
        lease = self._acquire(kind, owner)
        stop = threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(lease, stop), name="hermes-lock-heartbeat", daemon=True
        )
        heartbeat.start()
        try:
            yield lease
        finally:
            stop.set()
            heartbeat.join()
            if not lease.keep:
                self._release_quietly(lease)

    def current(self) -> LockInfo | None:
        """The lock as stored (expired or not), or None."""
        doc = read_doc(self.client, self.index, self.lock_id)
        if doc is None:
            return None
        src = doc["_source"]
        return LockInfo(src["owner"], src["kind"], parse_rfc3339(src["expires_at"]))

    # --- taking and giving back ------------------------------------------------------------------

    def _body(self, owner: str, kind: str) -> dict[str, Any]:
        expires = datetime.now(UTC) + timedelta(seconds=self.ttl_s)
        return {"kind": kind, "owner": owner, "expires_at": format_rfc3339(expires)}

    def _valid_until(self, sent_at: float) -> float:
        """A write sent at ``sent_at`` keeps the lock ours until then (a quarter of the TTL spare for clock skew)."""
        return sent_at + self.ttl_s * 0.75

    def _acquire(self, kind: str, owner: str | None) -> Lease:
        shared = owner is not None
        owner = owner or f"{socket.gethostname()}/{uuid.uuid4().hex}"
        for _ in range(2):
            sent_at = time.monotonic()
            resp = self.client.options(ignore_status=409).create(
                index=self.index, id=self.lock_id, document=self._body(owner, kind), refresh=True
            )
            if resp.meta.status != 409:
                seq_no, term = int(resp["_seq_no"]), int(resp["_primary_term"])
                return Lease(owner, kind, seq_no, term, self._valid_until(sent_at))
            if shared and (lease := self._adopt(owner, kind)) is not None:
                return lease
            if not self._break_if_expired():
                break
        held = self.current()
        msg = f"a {held.kind if held else 'load'} is already running"
        raise LoadInProgressError(msg)

    def _adopt(self, owner: str, kind: str) -> Lease | None:
        """The stored lock as our lease when ``owner`` holds it (renewed at once), else None."""
        doc = read_doc(self.client, self.index, self.lock_id)
        if doc is None or doc["_source"].get("owner") != owner:
            return None
        lease = Lease(owner, kind, int(doc["_seq_no"]), int(doc["_primary_term"]), time.monotonic())
        return lease if self._renew(lease) else None

    def release(self, owner: str) -> bool:
        """Delete the lock if ``owner`` holds it (compare-and-delete); whether it was deleted."""
        for _ in range(3):
            doc = read_doc(self.client, self.index, self.lock_id)
            if doc is None or doc["_source"].get("owner") != owner:
                return False
            resp = self.client.options(ignore_status=(404, 409)).delete(
                index=self.index,
                id=self.lock_id,
                if_seq_no=doc["_seq_no"],
                if_primary_term=doc["_primary_term"],
                refresh=True,
            )
            if resp.meta.status == 200:
                return True
        return False

    def _break_if_expired(self) -> bool:
        doc = read_doc(self.client, self.index, self.lock_id)
        if doc is None:
            return True
        if parse_rfc3339(doc["_source"]["expires_at"]) > datetime.now(UTC):
            return False
        log.warning("breaking expired lock", extra={"owner": doc["_source"]["owner"]})
        self.client.options(ignore_status=(404, 409)).delete(
            index=self.index,
            id=self.lock_id,
            if_seq_no=doc["_seq_no"],
            if_primary_term=doc["_primary_term"],
            refresh=True,
        )
        return True

    def _release_quietly(self, lease: Lease) -> None:
        """Give the lock back; never raise over the load's own outcome or error.

        When Elasticsearch cannot be reached (the usual reason a load just failed), the
        lock stays until its TTL runs out: no heartbeat renews it any more.
        """
        if lease.lost.is_set():
            log.warning("lock not released: another run holds it", extra={"kind": lease.kind})
            return
        try:
            resp = self.client.options(ignore_status=(404, 409)).delete(
                index=self.index,
                id=self.lock_id,
                if_seq_no=lease.seq_no,
                if_primary_term=lease.primary_term,
                refresh=True,
            )
        except Exception as exc:
            log.warning(
                "lock not released; it expires after the TTL",
                extra={"kind": lease.kind, "ttl_s": self.ttl_s, "exc": type(exc).__name__},
            )
            return
        if resp.meta.status != 200:
            log.warning(
                "lock not released: it is no longer ours", extra={"kind": lease.kind, "status": resp.meta.status}
            )

    # --- the heartbeat -----------------------------------------------------------------------------

    def _heartbeat(self, lease: Lease, stop: threading.Event) -> None:
        wait = self.renew_every_s
        while not stop.wait(wait):
            try:
                renewed = self._renew(lease)
            except Exception as exc:  # unreachable or slow: try again soon, the lease's clock runs on
                log.warning("lock renewal failed", extra={"kind": lease.kind, "exc": type(exc).__name__})
                wait = self.renew_every_s / 4
                continue
            wait = self.renew_every_s
            if not renewed:
                LoadLock.lost_total += 1
                lease.lost.set()
                log.error(
                    "load lock lost",
                    extra={"kind": lease.kind, "owner": lease.owner, "lock_lost_total": LoadLock.lost_total},
                )
                return

    def _renew(self, lease: Lease) -> bool:
        """Push ``expires_at`` forward if the lock is still ours (compare-and-set).

        A renewal times out well within the TTL and is not retried by the client: a retry of
        a write that was applied would meet its own sequence number as a conflict. A conflict
        is therefore read back: still our owner means our write landed.
        """
        sent_at = time.monotonic()
        timeout = max(0.2, self.ttl_s / 6)
        resp = self.client.options(ignore_status=(404, 409), request_timeout=timeout, max_retries=0).index(
            index=self.index,
            id=self.lock_id,
            document=self._body(lease.owner, lease.kind),
            if_seq_no=lease.seq_no,
            if_primary_term=lease.primary_term,
            refresh=True,
        )
        if resp.meta.status in (404, 409):
            doc = read_doc(self.client, self.index, self.lock_id)
            if doc is None or doc["_source"].get("owner") != lease.owner:
                return False
            lease.seq_no, lease.primary_term = int(doc["_seq_no"]), int(doc["_primary_term"])
        else:
            lease.seq_no, lease.primary_term = int(resp["_seq_no"]), int(resp["_primary_term"])
        lease.valid_until = self._valid_until(sent_at)
        return True
