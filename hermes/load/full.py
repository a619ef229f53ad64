"""The full load: rebuild the index behind the alias from the whole source, in slices, and swap atomically.

A load is started by one event and goes on by itself (CONTRACT.md § Long loads)::

    dev.hermes.load.full ─▶ start(): take the load lock, create the building index, one checkpoint
                            per partition ─▶ hand over partitions 1..n-1, run partition 0's first slice
    dev.hermes.load.full.continue ─▶ resume(): the partition's next slice (hermes/load/slices.py)
    a slice that stops early        ─▶ checkpoint, hand over the next slice (hermes/load/handover.py)
    a partition's last slice        ─▶ joins the finished ones; the last to join verifies and swaps
                                       (hermes/load/finish.py)

The load lock is the load's own (its owner is the load), adopted by each slice and kept between
slices: deltas defer and other full loads get 409 until the load completes or ends. A partition is
claimed by one slice at a time (a second delivery meanwhile gets 409 and is retried later).
:func:`full_load` runs all of it in this process (the operator CLI, tests).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hermes.errors import (
    BadEventError,
    ErrorBudgetExceededError,
    HermesError,
    IndexRejectedError,
    LoadFailedError,
    LoadInProgressError,
    NotFoundError,
    UnavailableError,
    VerificationError,
)
from hermes.load import indices, reports
from hermes.load.checkpoints import Checkpoints, LoadRecord, PartitionRecord, claim_id
from hermes.load.cursor import Cursor, Partition
from hermes.load.finish import end, finish, join_finished, progress, settle, stored_watermark
from hermes.load.handover import HandOver
from hermes.load.lock import Lease, LoadLock
from hermes.load.mappings import IndexShape
from hermes.load.pipeline import load_lock, loader_client
from hermes.load.reports import FullLoadReport, ProgressReport
from hermes.load.slices import SliceRef, mark_running, run_slice
from hermes.load.sources import SourceConfig
from hermes.load.state import State
from hermes.settings import Settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)

__all__ = ["EventKey", "cancel", "full_load", "resume", "start", "stored_watermark"]

# A partition's claim: short, so a slice killed with its pod frees its partition well within a Broker's
# retries (renewed every third of it while the slice runs).
CLAIM_TTL_S = 15.0

# Errors that a later attempt cannot cure: the load ends at once instead of being retried.
_FOR_GOOD = (ErrorBudgetExceededError, VerificationError, IndexRejectedError)


@dataclass(frozen=True)
class EventKey:
    """Identity of a CloudEvent for redelivery detection."""

    source: str
    id: str


def full_load(
    client: Elasticsearch, settings: Settings, *, force: bool = False, event: EventKey | None = None
) -> FullLoadReport:
    """Run a whole full load in this process: every slice of every partition, one after another.

    Nobody redelivers a slice here, so any failure ends the load at once. Raises
    :class:`LoadInProgressError` while another load runs. On any failure the alias and the served
    index are left exactly as they were.
    """
    client, books = _books(client, settings)
    known = _event_load(client, settings, books, event) if event is not None else None
    if isinstance(known, dict):
        return known
    load = known or _begin(client, settings, books, force=force, event=event)
    # Partition 0 also when every one is done: a known load whose finish failed is finished by it.
    due = deque(SliceRef(load.id, p.partition) for p in books.partitions(load) if not p.done or p.partition == 0)
    try:
        report = _drive(client, settings, due)
    except LoadInProgressError:
        raise  # another process runs this load (or another one): not ours to end
    except BaseException as exc:
        if (current := books.load(load.id)) is not None and current.status == "running":
            end(client, settings, books, current, status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    if report["status"] not in ("completed", "duplicate"):
        msg = f"the full load ended {report['status']}: {report.get('error')}"
        raise UnavailableError(msg)
    return report  # type: ignore[return-value]


def _drive(client: Elasticsearch, settings: Settings, due: deque[SliceRef]) -> FullLoadReport | ProgressReport:
    report: FullLoadReport | ProgressReport | None = None
    while due:
        report = resume(client, settings, due.popleft(), due.append)
    if report is None:
        msg = "the load had no partition left to run"
        raise UnavailableError(msg)
    return report


def start(
    client: Elasticsearch,
    settings: Settings,
    hand_over: HandOver,
    *,
    force: bool = False,
    event: EventKey | None = None,
) -> FullLoadReport | ProgressReport:
    """Start a load and run its first slice; for an event seen before, answer for the load it started.

    A redelivered first event whose load still runs resumes that load's first partition (its first
    delivery was running it when it died, or it is running still: then the partition's claim answers 409).
    """
    client, books = _books(client, settings)
    known = _event_load(client, settings, books, event) if event is not None else None
    if isinstance(known, dict):
        return known
    if known is not None:  # partitions this event's first delivery may not have handed over
        for part in books.partitions(known)[1:]:
            if part.slice == 0 and part.running is None:
                hand_over(SliceRef(known.id, part.partition, 0))
        return resume(client, settings, SliceRef(known.id, 0), hand_over)
    load = _begin(client, settings, books, force=force, event=event)
    for partition in range(1, load.partitions):
        hand_over(SliceRef(load.id, partition, 0))
    return resume(client, settings, SliceRef(load.id, 0, 0), hand_over)


def _books(client: Elasticsearch, settings: Settings) -> tuple[Elasticsearch, Checkpoints]:
    SourceConfig.from_settings(settings)  # refuse early, before taking the lock
    client = loader_client(client, settings)
    State(client, settings.state_index).ensure()
    return client, Checkpoints(client, settings.state_index)


def _event_load(
    client: Elasticsearch, settings: Settings, books: Checkpoints, event: EventKey
) -> FullLoadReport | LoadRecord | None:
    """For an event seen before: its completed report, or the load it started if that still runs."""
    state = State(client, settings.state_index)
    if done := state.completed_event(event.source, event.id):
        return reports.duplicate(done)
    load_id = state.event_load(event.source, event.id)
    load = books.load(load_id) if load_id else None
    return load if load is not None and load.status == "running" else None


def resume(
    client: Elasticsearch, settings: Settings, ref: SliceRef, hand_over: HandOver
) -> FullLoadReport | ProgressReport:
    """Run the slice ``ref`` names, if it is due; for one that ran already, make sure the load goes on.

    A redelivery is how a lost step is repaired: the slice after it handed over again (its hand-over
    was refused, or its process died before sending it), a finished partition joined, a finish retried.
    """
    client = loader_client(client, settings)
    books = Checkpoints(client, settings.state_index)
    load = books.load(ref.load)
    if load is None:
        msg = f"no full load {ref.load!r} is known"
        raise BadEventError(msg, parameter="load")
    if load.status not in ("running", "finishing"):
        return resume_answer(books, load)
    part = books.partition(load.id, ref.partition)
    if part is None:
        msg = f"load {load.id} has no partition {ref.partition}"
        raise BadEventError(msg, parameter="partition")
    if part.done:
        return _after_partition(client, settings, books, load, part.partition)
    if ref.slice is not None and ref.slice < part.slice:
        if ref.slice == part.slice - 1 and part.running is None:  # its hand-over may be lost: send it again
            hand_over(SliceRef(load.id, part.partition, part.slice))
        return progress(books, load, "duplicate")
    if ref.slice is not None and ref.slice > part.slice:
        msg = f"slice {ref.slice} of partition {ref.partition} is not due: the next is {part.slice}"
        raise BadEventError(msg, parameter="slice")
    return _slice(client, settings, books, load, ref, hand_over=hand_over)


def _slice(
    client: Elasticsearch,
    settings: Settings,
    books: Checkpoints,
    load: LoadRecord,
    ref: SliceRef,
    *,
    hand_over: HandOver,
) -> FullLoadReport | ProgressReport:
    partition, started = ref.partition, time.monotonic()
    with load_lock(client, settings).held("full_load", owner=load.owner) as lease:
        lease.keep = True  # between slices the lock stays the load's
        if _ended(books, load):  # it ended while this request took the lock: do not keep a lock for it
            load_lock(client, settings).release(load.owner)
            return resume_answer(books, books.load(load.id) or load)
        claim = LoadLock(client, settings.state_index, CLAIM_TTL_S, lock_id=claim_id(load.id, partition))
        with claim.held("full_load slice"):
            part = books.partition(load.id, partition)  # again, now that no other slice of it runs
            if part is None or part.done or ref.slice not in (None, part.slice):
                return progress(books, load, "duplicate")
            try:
                part = _run(client, settings, books, load, part)
            except LoadCancelled as cancelled:
                return progress(books, cancelled.load, "cancelled")
        if not part.done:
            hand_over(SliceRef(load.id, partition, part.slice))
            return progress(books, load, "continuing")
        if time.monotonic() - started > settings.slice_s / 2:  # the finish gets a request of its own
            if join_finished(books, load, partition) is not None:
                hand_over(SliceRef(load.id, partition, part.slice))
            return progress(books, books.load(load.id) or load, "continuing")
        return _join_and_finish(client, settings, books, load, partition, lease=lease)


def _after_partition(
    client: Elasticsearch, settings: Settings, books: Checkpoints, load: LoadRecord, partition: int
) -> FullLoadReport | ProgressReport:
    """A delivery for a finished partition: join it if its last slice died before joining, finish the load
    if every partition has joined but the load did not complete (a finish a retry can cure)."""
    if partition in load.done and len(load.done) < load.partitions:
        return progress(books, load, "duplicate")
    with load_lock(client, settings).held("full_load", owner=load.owner) as lease:
        lease.keep = True
        if _ended(books, load):
            load_lock(client, settings).release(load.owner)
            return resume_answer(books, books.load(load.id) or load)
        return _join_and_finish(client, settings, books, load, partition, lease=lease)


def _join_and_finish(
    client: Elasticsearch, settings: Settings, books: Checkpoints, load: LoadRecord, partition: int, *, lease: Lease
) -> FullLoadReport | ProgressReport:
    joined = join_finished(books, load, partition)
    current = books.load(load.id) or load
    if joined is None and len(current.done) < current.partitions:
        return progress(books, current, "continuing")
    return _finish_once(client, settings, books, current, lease)


def _finish_once(
    client: Elasticsearch, settings: Settings, books: Checkpoints, load: LoadRecord, lease: Lease
) -> FullLoadReport | ProgressReport:
    """Verify and swap, by one request at a time (a claim of its own), unless another did already."""
    claim = LoadLock(client, settings.state_index, CLAIM_TTL_S, lock_id=claim_id(load.id, "finish"))
    with claim.held("full_load finish"):
        current = books.load(load.id)
        if current is None or current.status not in ("running", "finishing"):  # finishing: a finisher died
            return resume_answer(books, current or load)
        try:
            report = finish(client, settings, books, current, lease)
        except _FOR_GOOD as exc:
            end(client, settings, books, current, status="failed", error=str(exc), swapping=True)
            raise
    load_lock(client, settings).release(load.owner)  # the load is over (by owner: other slices renewed it)
    return report


def _ended(books: Checkpoints, load: LoadRecord) -> bool:
    current = books.load(load.id)
    return current is None or current.status not in ("running", "finishing")


def resume_answer(books: Checkpoints, load: LoadRecord) -> FullLoadReport | ProgressReport:
    """What a delivery for a load that is no longer running answers.

    A load that failed answers its failure again (502): a Broker retries it and then dead-letters it, so the
    failure reaches the dead-letter record. A completed load answers its report, a cancelled one 200.
    """
    if load.status == "completed" and load.report:
        return reports.duplicate(load.report)
    if load.status == "failed":
        msg = f"full load {load.id} failed: {load.error}"
        raise LoadFailedError(msg)
    return progress(books, load, load.status)


def _run(
    client: Elasticsearch, settings: Settings, books: Checkpoints, load: LoadRecord, part: PartitionRecord
) -> PartitionRecord:
    part, resumed, attempt = mark_running(books, part)
    if attempt > settings.slice_attempts:
        msg = f"slice {part.slice} of partition {part.partition} died {attempt - 1} times (HERMES_SLICE_ATTEMPTS)"
        end(client, settings, books, load, status="failed", error=msg)
        raise UnavailableError(msg)
    try:
        return run_slice(client, settings, load, part, resumed=resumed)
    except _FOR_GOOD as exc:
        end(client, settings, books, load, status="failed", error=str(exc))
        raise
    except HermesError:
        current = books.load(load.id)
        if current is not None and current.status == "cancelled":
            raise LoadCancelled(current) from None
        raise


class LoadCancelled(Exception):
    """A slice found its load cancelled under it."""

    def __init__(self, load: LoadRecord) -> None:
        super().__init__(load.id)
        self.load = load


def _begin(
    client: Elasticsearch, settings: Settings, books: Checkpoints, *, force: bool, event: EventKey | None
) -> LoadRecord:
    """Take the load lock for a new load, create its building index and checkpoints."""
    started = datetime.now(UTC)
    name = indices.new_index_name(settings.es_index, started)
    load = LoadRecord(
        id=name.rsplit("-", 1)[1],
        index=name,
        partitions=settings.load_partitions,
        started_at=started.isoformat(),
        force=force,
        event_source=event.source if event else None,
        event_id=event.id if event else None,
    )
    with load_lock(client, settings).held("full_load", owner=load.owner) as lease:
        _abandon_others(client, settings, books)
        indices.create_index(
            client, name, settings.field_schema, settings.analysis, bulk=True, shape=IndexShape.from_settings(settings)
        )
        books.create(load, [_first(settings, load, i) for i in range(load.partitions)])
        if event is not None:
            State(client, settings.state_index).remember_load(event.source, event.id, load.id)
        lease.keep = True
    log.info("full load started", extra={"load": load.id, "index": name, "partitions": load.partitions})
    return load


def _first(settings: Settings, load: LoadRecord, partition: int) -> PartitionRecord:
    url = Partition(partition, load.partitions).first_url(SourceConfig.from_settings(settings).url)
    return PartitionRecord(load.id, partition, Cursor(url))


def _abandon_others(client: Elasticsearch, settings: Settings, books: Checkpoints) -> None:
    """Loads still marked running when a new one takes the lock lost theirs long ago: mark them failed.

    Their building indices are orphans, which this load prunes when it completes.
    """
    for old in books.recent():
        if old.status == "running":
            settle(books, old, "failed", error="abandoned: its lock expired before it completed")


def give_up(client: Elasticsearch, settings: Settings, ref: SliceRef, reason: str) -> bool:
    """End a running load whose due slice a Broker gave up on; whether it was ended.

    A dead-lettered event for a slice that ran since (a duplicate's 409s ran out while the real one
    worked), or for a partition whose claim is alive (a slice of it runs now), changes nothing.
    """
    client = loader_client(client, settings)
    books = Checkpoints(client, settings.state_index)
    load = books.load(ref.load)
    part = books.partition(ref.load, ref.partition)
    if load is None or load.status != "running" or part is None:
        return False
    if part.done or (ref.slice is not None and ref.slice < part.slice):
        return False
    claim = LoadLock(client, settings.state_index, CLAIM_TTL_S, lock_id=claim_id(load.id, ref.partition)).current()
    if claim is not None and claim.expires_at > datetime.now(UTC):
        return False
    end(client, settings, books, load, status="failed", error=reason)
    return True


def cancel(client: Elasticsearch, settings: Settings, load_id: str | None = None) -> ProgressReport:
    """Cancel the running load (or ``load_id``): its building index goes, its lock is freed, nothing served changes."""
    books = Checkpoints(client, settings.state_index)
    live = ("running", "finishing")
    running = [old for old in books.recent() if old.status in live and load_id in (None, old.id)]
    if not running:
        msg = f"no running full load{' ' + load_id if load_id else ''} to cancel"
        raise NotFoundError(msg)
    load = running[0]
    if not end(client, settings, books, load, status="cancelled", error="cancelled by an operator"):
        msg = f"full load {load.id} is swapping the alias now: too late to cancel (roll back once it completes)"
        raise LoadInProgressError(msg)
    return progress(books, books.load(load.id) or load, "cancelled")
