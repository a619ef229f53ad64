"""Full and delta loads: one pipeline, source → operations → sink.

A full load writes into a new versioned index and swaps the alias at the end; a
delta writes through the alias. Both hold the one load lock of the state index.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hermes import indices
from hermes.budget import ErrorBudget
from hermes.bulk import BulkConfig, Outcome, Sink
from hermes.errors import ConfigurationError, LoadInProgressError, NoFullLoadError, VerificationError
from hermes.prefetch import prefetch
from hermes.records import format_rfc3339, to_operation
from hermes.settings import Settings
from hermes.sources import SourceConfig, read_records
from hermes.state import State

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventKey:
    """Identity of a CloudEvent for redelivery detection."""

    source: str
    id: str


def _loader_client(client: Elasticsearch, settings: Settings) -> Elasticsearch:
    """Loaders wait longer than searches: a refresh after a large bulk takes seconds."""
    return client.options(request_timeout=settings.es_bulk_timeout_s)


def _source_config(settings: Settings) -> SourceConfig:
    if not settings.data_source_url:
        msg = "DATA_SOURCE_URL is not set: loaders refuse to run without it"
        raise ConfigurationError(msg)
    token = settings.data_source_token.get_secret_value() if settings.data_source_token else None
    return SourceConfig(settings.data_source_url, token, settings.source_timeout_s, settings.source_retries)


def _sink(client: Elasticsearch, index: str, settings: Settings) -> Sink:
    config = BulkConfig(
        chunk_docs=settings.bulk_chunk_docs,
        chunk_bytes=settings.bulk_chunk_bytes,
        timeout_s=settings.es_bulk_timeout_s,
        workers=settings.bulk_workers,
    )
    budget = ErrorBudget(settings.max_failures, settings.max_consecutive_failures, settings.max_failure_rate)
    return Sink(client, index, config, budget)


def _stream(client: Elasticsearch, index: str, settings: Settings, since: datetime | None) -> Outcome:
    records = read_records(_source_config(settings), since)
    return _sink(client, index, settings).write(prefetch(to_operation(r) for r in records))


# --- full load ---------------------------------------------------------------------------------


def full_load(
    client: Elasticsearch, settings: Settings, *, force: bool = False, event: EventKey | None = None
) -> dict[str, Any]:
    """Rebuild the index behind the alias from the whole source; swap atomically.

    Raises :class:`LoadInProgressError` while another load runs. On any failure
    the alias and the served index are left exactly as they were.
    """
    _source_config(settings)  # refuse early, before taking the lock
    client = _loader_client(client, settings)
    state = State(client, settings.state_index)
    state.ensure()
    if event is not None and (done := state.completed_event(event.source, event.id)):
        return {**done, "status": "duplicate"}
    lock = state.acquire("full_load", settings.lock_ttl_s)
    try:
        if event is not None and (done := state.completed_event(event.source, event.id)):
            return {**done, "status": "duplicate"}
        report = _rebuild(client, settings, state, force=force)
        if event is not None:
            state.remember_event(event.source, event.id, report)
        return report
    finally:
        state.release(lock)


def _rebuild(client: Elasticsearch, settings: Settings, state: State, *, force: bool) -> dict[str, Any]:
    started, clock = datetime.now(UTC), time.monotonic()
    alias = settings.es_index
    new = indices.new_index_name(alias, started)
    indices.create_index(client, new, bulk=True)
    try:
        outcome = _stream(client, new, settings, since=None)
        indices.finish_bulk(client, new)
        _verify(client, alias, new, outcome, settings, force=force)
        previous = indices.swap_alias(client, alias, new, retired_meta={"watermark": _stored_watermark(state)})
    except BaseException:
        client.options(ignore_status=404).indices.delete(index=new)
        raise
    # Never ahead of our own start: records changed while we streamed are re-read by the next delta.
    watermark = min(outcome.newest_done or started, started)
    if outcome.oldest_failed is not None:
        watermark = min(watermark, outcome.oldest_failed)
    state.add_dead_letters("full_load", outcome.dead_letters)
    state.save_watermark(watermark, new)
    pruned = indices.prune(client, alias, keep=settings.keep_indices, grace_s=settings.prune_grace_s)
    report = {
        "status": "completed",
        "index": new,
        "previous_index": previous[0] if previous else None,
        "indexed": outcome.indexed + outcome.deleted,
        "skipped": outcome.skipped,
        "failed": outcome.failed,
        "invalid": outcome.invalid,
        "duration_s": round(time.monotonic() - clock, 3),
        "watermark": format_rfc3339(watermark),
        "pruned": pruned,
    }
    log.info("full load completed", extra={k: v for k, v in report.items() if k != "status"})
    return report


def _stored_watermark(state: State) -> str | None:
    value = state.watermark()
    return format_rfc3339(value) if value else None


def _verify(client: Elasticsearch, alias: str, new: str, outcome: Outcome, settings: Settings, *, force: bool) -> None:
    count = int(client.count(index=new)["count"])
    if count != outcome.created:
        msg = f"index {new} holds {count} documents, but {outcome.created} were written"
        raise VerificationError(msg)
    if force:
        return
    served = indices.indices_behind(client, alias)
    if not served:
        return
    old_live = live_count(client, alias)
    new_live = live_count(client, new)
    if old_live and new_live < settings.min_swap_ratio * old_live:
        msg = (
            f"new index would serve {new_live} documents, fewer than "
            f"{settings.min_swap_ratio:.0%} of the {old_live} served now (send force to override)"
        )
        raise VerificationError(msg)


def live_count(client: Elasticsearch, index: str) -> int:
    """Documents that are served (tombstones excluded)."""
    return int(client.count(index=index, query={"term": {"deleted": False}})["count"])


# --- delta load --------------------------------------------------------------------------------


def delta_load(client: Elasticsearch, settings: Settings) -> dict[str, Any]:
    """Apply every change since the stored watermark through the alias.

    Raises :class:`NoFullLoadError` before any full load; answers ``deferred``
    while another load holds the lock.
    """
    _source_config(settings)
    client = _loader_client(client, settings)
    state = State(client, settings.state_index)
    # No ensure() on every tick: a missing state index reads as "no watermark", and the full load
    # that sets the watermark created it.
    if state.watermark() is None:
        msg = "no full load has completed yet: run a full load first"
        raise NoFullLoadError(msg)
    try:
        lock = state.acquire("delta_load", settings.lock_ttl_s)
    except LoadInProgressError as exc:
        log.info("delta deferred", extra={"reason": exc.message})
        return {"status": "deferred", "indexed": 0, "deleted": 0, "skipped": 0,
                "watermark": _stored_watermark(state)}  # fmt: skip
    try:
        return _apply_delta(client, settings, state)
    finally:
        state.release(lock)


def _apply_delta(client: Elasticsearch, settings: Settings, state: State) -> dict[str, Any]:
    clock = time.monotonic()
    watermark = state.watermark()
    if watermark is None:  # a rollback or reset raced us
        msg = "no full load has completed yet: run a full load first"
        raise NoFullLoadError(msg)
    since = watermark - timedelta(seconds=settings.delta_overlap_s)
    outcome = _stream(client, settings.es_index, settings, since=since)
    client.indices.refresh(index=settings.es_index)
    new_mark = max(watermark, outcome.newest_done) if outcome.newest_done else watermark
    if outcome.oldest_failed is not None:
        new_mark = min(new_mark, outcome.oldest_failed)
    state.add_dead_letters("delta_load", outcome.dead_letters)
    state.save_watermark(new_mark, ",".join(indices.indices_behind(client, settings.es_index)))
    report = {
        "status": "applied",
        "indexed": outcome.indexed,
        "deleted": outcome.deleted,
        "skipped": outcome.skipped,
        "failed": outcome.failed,
        "invalid": outcome.invalid,
        "watermark": format_rfc3339(new_mark),
        "duration_s": round(time.monotonic() - clock, 3),
    }
    log.info("delta applied", extra={k: v for k, v in report.items() if k != "status"})
    return report


# --- operator actions --------------------------------------------------------------------------


def rollback(client: Elasticsearch, settings: Settings) -> dict[str, Any]:
    """Point the alias back at the most recently retired index; restore its watermark."""
    client = _loader_client(client, settings)
    state = State(client, settings.state_index)
    state.ensure()
    lock = state.acquire("rollback", settings.lock_ttl_s)
    try:
        candidates = [
            (str(meta["retired_at"]), name, meta)
            for name, meta in indices.managed_indices(client, settings.es_index).items()
            if "retired_at" in meta
        ]
        if not candidates:
            msg = "no previous index to roll back to"
            raise VerificationError(msg)
        _, target, meta = max(candidates)
        current = _stored_watermark(state)
        previous = indices.swap_alias(client, settings.es_index, target,
                                      retired_meta={"watermark": current})  # fmt: skip
        if meta.get("watermark"):
            state.save_watermark(datetime.fromisoformat(str(meta["watermark"])), target)
        return {"status": "rolled_back", "index": target,
                "previous_index": previous[0] if previous else None}  # fmt: skip
    finally:
        state.release(lock)


def status(client: Elasticsearch, settings: Settings) -> dict[str, Any]:
    """Alias, indices, watermark, lock and dead-letter count, for operators."""
    state = State(client, settings.state_index)
    lock = state.current_lock()  # a missing state index reads as no lock
    dead, _ = state.dead_letters(limit=0)
    return {
        "alias": settings.es_index,
        "serving": indices.indices_behind(client, settings.es_index),
        "indices": indices.managed_indices(client, settings.es_index),
        "watermark": _stored_watermark(state),
        "lock": None if lock is None else {"kind": lock.kind, "owner": lock.owner,
                                          "expires_at": format_rfc3339(lock.expires_at)},
        "dead_letters": dead,
    }  # fmt: skip
