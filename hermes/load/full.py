"""The full load: rebuild the index behind the alias from the whole source, swap atomically."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hermes.errors import VerificationError
from hermes.load import indices, reports
from hermes.load.lock import Lease
from hermes.load.mappings import IndexShape
from hermes.load.pipeline import load_lock, loader_client, stream
from hermes.load.reports import FullLoadReport
from hermes.load.sink import Outcome
from hermes.load.sources import SourceConfig
from hermes.load.state import State
from hermes.settings import Settings
from hermes.timestamps import format_rfc3339

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventKey:
    """Identity of a CloudEvent for redelivery detection."""

    source: str
    id: str


def full_load(
    client: Elasticsearch, settings: Settings, *, force: bool = False, event: EventKey | None = None
) -> FullLoadReport:
    """Rebuild the index behind the alias from the whole source; swap atomically.

    Raises :class:`LoadInProgressError` while another load runs. On any failure
    the alias and the served index are left exactly as they were.
    """
    SourceConfig.from_settings(settings)  # refuse early, before taking the lock
    client = loader_client(client, settings)
    state = State(client, settings.state_index)
    state.ensure()
    if event is not None and (done := state.completed_event(event.source, event.id)):
        return reports.duplicate(done)
    with load_lock(client, settings).held("full_load") as lease:
        if event is not None and (done := state.completed_event(event.source, event.id)):
            return reports.duplicate(done)
        report = _rebuild(client, settings, state, lease, force=force)
        if event is not None:
            state.remember_event(event.source, event.id, report)
        return report


def _rebuild(client: Elasticsearch, settings: Settings, state: State, lease: Lease, *, force: bool) -> FullLoadReport:
    started, clock = datetime.now(UTC), time.monotonic()
    alias = settings.es_index
    new = indices.new_index_name(alias, started)
    indices.create_index(
        client, new, settings.field_schema, settings.analysis, bulk=True, shape=IndexShape.from_settings(settings)
    )
    try:
        outcome = stream(client, indices.writer_alias(new), settings, since=None, schema=settings.field_schema)
        indices.drop_writer_alias(client, new)
        indices.finish_bulk(client, new, timeout_s=settings.shard_wait_s)
        _verify(client, alias, new, outcome, settings, force=force)
        indices.wait_green(client, new, settings.green_timeout_s)
        lease.check()
        previous = indices.swap_alias(client, alias, new, retired_meta={"watermark": stored_watermark(state)})
    except BaseException:
        # A swap request that failed may still have been applied (a timeout after Elasticsearch
        # moved the alias): never delete what the alias serves.
        if not indices.serves(client, alias, new):
            client.options(ignore_status=404).indices.delete(index=new)
        raise
    # Never ahead of our own start: records changed while we streamed are re-read by the next delta.
    watermark = min(outcome.newest_done or started, started)
    if outcome.oldest_failed is not None:
        watermark = min(watermark, outcome.oldest_failed)
    state.add_dead_letters("full_load", outcome.dead_letters)
    state.save_watermark(watermark, new)
    pruned = _prune(client, settings)
    report: FullLoadReport = {
        "status": "completed",
        "index": new,
        "previous_index": previous[0] if previous else None,
        **reports.counts(outcome),
        "duration_s": round(time.monotonic() - clock, 3),
        "watermark": format_rfc3339(watermark),
        "pruned": pruned,
    }
    log.info("full load completed", extra={k: v for k, v in report.items() if k != "status"})
    return report


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
    old_live = indices.live_count(client, alias)
    new_live = indices.live_count(client, new)
    if old_live and new_live < settings.min_swap_ratio * old_live:
        msg = (
            f"new index would serve {new_live} documents, fewer than "
            f"{settings.min_swap_ratio:.0%} of the {old_live} served now (send force to override)"
        )
        raise VerificationError(msg)
