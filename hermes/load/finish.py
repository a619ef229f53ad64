"""The end of a full load: the last partition to finish verifies and swaps; a load that fails for good
or is cancelled is cleaned away. Both leave the served index and the alias as they were until the swap.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hermes.errors import LoadEndedError, VerificationError
from hermes.load import indices
from hermes.load.checkpoints import Checkpoints, LoadRecord, LoadStatus, Tally
from hermes.load.lock import Lease
from hermes.load.pipeline import load_lock
from hermes.load.reports import FullLoadReport, ProgressReport
from hermes.load.state import State
from hermes.settings import Settings
from hermes.timestamps import format_rfc3339, parse_rfc3339

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)


def join_finished(books: Checkpoints, load: LoadRecord, partition: int) -> LoadRecord | None:
    """Add ``partition`` to the load's finished ones (compare-and-set, retried on a conflict).

    Returns the load when this call completed the list, so its caller is the one finisher; else None.
    """
    current: LoadRecord | None = load
    while current is not None and current.status == "running":
        if partition in current.done:
            return None  # a duplicate: whoever added it first decided
        current.done = sorted({*current.done, partition})
        if books.save_load(current):
            return current if len(current.done) == current.partitions else None
        current = books.load(load.id)
    return None


def finish(
    client: Elasticsearch, settings: Settings, books: Checkpoints, load: LoadRecord, lease: Lease
) -> FullLoadReport:
    """Verify the building index, swap the alias to it, store the watermark, prune, report."""
    state = State(client, settings.state_index)
    alias, tally = settings.es_index, books.tally(load)
    indices.drop_writer_alias(client, load.index)
    indices.finish_bulk(client, load.index, timeout_s=settings.shard_wait_s)
    verify(client, alias, load, tally, settings)
    indices.wait_green(client, load.index, settings.green_timeout_s)
    lease.check()
    if not settle(books, load, "finishing", only_from=("running", "finishing")):
        msg = f"full load {load.id} was ended before its swap"
        raise LoadEndedError(msg)
    try:
        previous = indices.swap_alias(client, alias, load.index, retired_meta={"watermark": stored_watermark(state)})
    except BaseException:
        if not indices.serves(client, alias, load.index):  # not swapped: a retry may finish it, a cancel end it
            settle(books, load, "running", only_from=("finishing",))
        raise
    started = parse_rfc3339(load.started_at)
    # Never ahead of the load's start: records changed while it read are re-read by the next delta.
    watermark = min(parse_rfc3339(tally.newest_done) if tally.newest_done else started, started)
    if tally.oldest_failed is not None:
        watermark = min(watermark, parse_rfc3339(tally.oldest_failed))
    state.save_watermark(watermark, load.index)
    report: FullLoadReport = {
        "status": "completed",
        "index": load.index,
        "previous_index": previous[0] if previous else None,
        "indexed": tally.indexed,
        "deleted": tally.deleted,
        "skipped": tally.stale - tally.replayed + tally.invalid,
        "invalid": tally.invalid,
        "failed": tally.failed,
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 3),
        "watermark": format_rfc3339(watermark),
        "pruned": _prune(client, settings),
    }
    settle(books, load, "completed", report=dict(report), only_from=("finishing",))
    if load.event_source and load.event_id:
        state.remember_event(load.event_source, load.event_id, report)
    log.info("full load completed", extra={k: v for k, v in report.items() if k != "status"})
    return report


def verify(client: Elasticsearch, alias: str, load: LoadRecord, tally: Tally, settings: Settings) -> None:
    """The building index holds what the partitions wrote, and (unless forced) enough to serve.

    Every record created a document: at least ``created`` documents. Every document was written by a
    record some slice read to its acknowledgement — written, or met again as stale (a slice that died had
    written it before its successor re-read it): at most ``indexed + deleted + stale``. With partitions, a
    source that ignores ``?partition=`` serves every partition everything: about (n-1) stale answers for
    each record created, outside any replay. Far more than a live source's page shifts can explain fails.
    """
    count = int(client.count(index=load.index)["count"])
    if load.partitions > 1 and tally.stale - tally.replayed > tally.created / 2:
        msg = (
            f"{tally.stale - tally.replayed} records came in more than one of the {load.partitions} partitions: "
            "the data source does not honour ?partition=<i>&partitions=<n> (HERMES_LOAD_PARTITIONS)"
        )
        raise VerificationError(msg)
    if not tally.created <= count <= tally.indexed + tally.deleted + tally.stale:
        msg = f"index {load.index} holds {count} documents, but {tally.created} were written"
        raise VerificationError(msg)
    if load.force or not indices.indices_behind(client, alias):
        return
    old_live = indices.live_count(client, alias)
    new_live = indices.live_count(client, load.index)
    if old_live and new_live < settings.min_swap_ratio * old_live:
        msg = (
            f"new index would serve {new_live} documents, fewer than "
            f"{settings.min_swap_ratio:.0%} of the {old_live} served now (send force to override)"
        )
        raise VerificationError(msg)


def end(
    client: Elasticsearch,
    settings: Settings,
    books: Checkpoints,
    load: LoadRecord,
    *,
    status: LoadStatus,
    error: str,
    swapping: bool = False,
) -> bool:
    """End a load that will not complete: its building index deleted (never a served one), its lock freed.

    Only a running load ends (``swapping``: also one whose own finisher failed mid-swap); one that is
    swapping or over already stays as it is. Whether it was ended.
    """
    if not settle(books, load, status, error=error, only_from=("running", "finishing") if swapping else ("running",)):
        return False
    # A swap request that failed may still have been applied (a timeout after Elasticsearch moved the
    # alias): never delete what the alias serves.
    if not indices.serves(client, settings.es_index, load.index):
        client.options(ignore_status=404).indices.delete(index=load.index)
    load_lock(client, settings).release(load.owner)
    log.warning("full load ended", extra={"load": load.id, "status": status, "error": error})
    return True


def settle(
    books: Checkpoints,
    load: LoadRecord,
    status: LoadStatus,
    *,
    report: dict[str, object] | None = None,
    error: str | None = None,
    only_from: tuple[LoadStatus, ...] = ("running",),
) -> bool:
    """Move the load to ``status`` if it is in one of ``only_from`` (compare-and-set, re-read on a conflict):
    a cancel cannot undo a swap under way, nor a finish a cancel. Whether it moved."""
    current: LoadRecord | None = load
    while current is not None and current.status in only_from:
        current.status, current.report, current.error = status, report, error
        if books.save_load(current):
            return True
        current = books.load(load.id)
    return False


def progress(books: Checkpoints, load: LoadRecord, status: str) -> ProgressReport:
    """Where a load stands, summed over its partitions."""
    parts = books.partitions(load)
    tally = books.tally(load)
    elapsed = (datetime.now(UTC) - parse_rfc3339(load.started_at)).total_seconds()
    return {
        "status": status,  # type: ignore[typeddict-item]
        "load": load.id,
        "index": load.index,
        "partitions": load.partitions,
        "partitions_done": sum(1 for p in parts if p.done),
        "slices": sum(p.slice for p in parts),
        "indexed": tally.indexed,
        "deleted": tally.deleted,
        "skipped": tally.stale - tally.replayed + tally.invalid,
        "invalid": tally.invalid,
        "failed": tally.failed,
        "duration_s": round(elapsed, 3),
        "error": load.error,
    }


def _prune(client: Elasticsearch, settings: Settings) -> list[str]:
    """Prune retired indices; a failure here is logged, not fatal: the new index is served already."""
    try:
        return indices.prune(client, settings.es_index, keep=settings.keep_indices, grace_s=settings.prune_grace_s)
    except Exception as exc:
        log.warning("pruning failed; the next load retries it", extra={"exc": type(exc).__name__})
        return []


def stored_watermark(state: State) -> str | None:
    """The stored watermark as RFC 3339, or None."""
    value = state.watermark()
    return format_rfc3339(value) if value else None
