"""The delta load: apply every change since the stored watermark, through the alias."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from hermes.errors import LoadInProgressError, NoFullLoadError
from hermes.load import indices, reports
from hermes.load.finish import stored_watermark
from hermes.load.lock import Lease
from hermes.load.pipeline import load_lock, loader_client, stream
from hermes.load.reports import DeltaLoadReport
from hermes.load.sources import SourceConfig
from hermes.load.state import State
from hermes.settings import Settings
from hermes.timestamps import format_rfc3339

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)

_NO_FULL_LOAD = "no full load has completed yet: run a full load first"


def delta_load(client: Elasticsearch, settings: Settings) -> DeltaLoadReport:
    """Apply every change since the stored watermark through the alias.

    Raises :class:`NoFullLoadError` before any full load; answers ``deferred``
    while another load holds the lock.
    """
    SourceConfig.from_settings(settings)
    client = loader_client(client, settings)
    state = State(client, settings.state_index)
    # No ensure() on every tick: a missing state index reads as "no watermark", and the full load
    # that sets the watermark created it.
    if state.watermark() is None:
        raise NoFullLoadError(_NO_FULL_LOAD)
    try:
        with load_lock(client, settings).held("delta_load") as lease:
            return _apply(client, settings, state, lease)
    except LoadInProgressError as exc:
        log.info("delta deferred", extra={"reason": exc.message})
        return {"status": "deferred", **reports.NO_COUNTS, "watermark": stored_watermark(state), "duration_s": 0.0}


def _apply(client: Elasticsearch, settings: Settings, state: State, lease: Lease) -> DeltaLoadReport:
    started, clock = datetime.now(UTC), time.monotonic()
    watermark = state.watermark()
    if watermark is None:  # a rollback or reset raced us
        raise NoFullLoadError(_NO_FULL_LOAD)
    since = min(watermark, started) - timedelta(seconds=settings.delta_overlap_s)
    # Records are checked against the schema the served index was built with, not HERMES_SCHEMA: a changed
    # schema waits for the next full load, and the served mapping never changes (dynamic: false).
    schema = indices.served_schema(client, settings.es_index)
    outcome = stream(client, settings.es_index, settings, since=since, schema=schema)
    client.indices.refresh(index=settings.es_index)
    new_mark = max(watermark, outcome.newest_done) if outcome.newest_done else watermark
    # Never ahead of our own start: one record dated in the future must not make every later delta
    # ask for `since=<future>` (and skip everything until then). A watermark already stored in the
    # future (written before this rule) is pulled back too.
    new_mark = min(new_mark, started)
    if outcome.oldest_failed is not None:
        new_mark = min(new_mark, outcome.oldest_failed)
    state.add_dead_letters("delta_load", outcome.dead_letters)
    lease.check()
    state.save_watermark(new_mark, ",".join(indices.indices_behind(client, settings.es_index)))
    report: DeltaLoadReport = {
        "status": "applied",
        **reports.counts(outcome),
        "watermark": format_rfc3339(new_mark),
        "duration_s": round(time.monotonic() - clock, 3),
    }
    log.info("delta applied", extra={k: v for k, v in report.items() if k != "status"})
    return report
