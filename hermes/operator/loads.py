"""Operator actions on the loaders' indices and state: status, rollback and dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from hermes.errors import VerificationError
from hermes.load import indices
from hermes.load.checkpoints import Checkpoints
from hermes.load.finish import progress, stored_watermark
from hermes.load.pipeline import load_lock, loader_client
from hermes.load.reports import RollbackReport
from hermes.load.state import State
from hermes.settings import Settings
from hermes.timestamps import format_rfc3339

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


def rollback(client: Elasticsearch, settings: Settings) -> RollbackReport:
    """Point the alias back at the most recently retired index; restore its watermark."""
    client = loader_client(client, settings)
    state = State(client, settings.state_index)
    state.ensure()
    with load_lock(client, settings).held("rollback") as lease:
        served = set(indices.indices_behind(client, settings.es_index))
        candidates = [
            (str(meta["retired_at"]), name, meta)
            for name, meta in indices.managed_indices(client, settings.es_index).items()
            if "retired_at" in meta and name not in served  # a served index may carry an old mark
        ]
        if not candidates:
            msg = "no previous index to roll back to"
            raise VerificationError(msg)
        _, target, meta = max(candidates)
        lease.check()
        previous = indices.swap_alias(
            client, settings.es_index, target, retired_meta={"watermark": stored_watermark(state)}
        )
        if meta.get("watermark"):
            state.save_watermark(datetime.fromisoformat(str(meta["watermark"])), target)
        return {"status": "rolled_back", "index": target, "previous_index": previous[0] if previous else None}


def dead_letters(client: Elasticsearch, settings: Settings, *, clear: bool) -> dict[str, Any]:
    """How many records the loads rejected and the newest of them; with ``clear``, forget them all."""
    state = State(client, settings.state_index)
    if clear:
        return {"cleared": state.clear_dead_letters()}
    total, newest = state.dead_letters()
    return {"total": total, "newest": newest}


def status(client: Elasticsearch, settings: Settings) -> dict[str, Any]:
    """Alias, indices, watermark, lock, dead-letter count and schema, for operators."""
    state = State(client, settings.state_index)
    lock = load_lock(client, settings).current()  # a missing state index reads as no lock
    dead, _ = state.dead_letters(limit=0)
    undelivered, newest = state.undelivered()
    return {
        "alias": settings.es_index,
        "serving": indices.indices_behind(client, settings.es_index),
        "indices": indices.managed_indices(client, settings.es_index),
        "watermark": stored_watermark(state),
        "lock": None
        if lock is None
        else {"kind": lock.kind, "owner": lock.owner, "expires_at": format_rfc3339(lock.expires_at)},
        "dead_letters": dead,
        "undelivered_events": {"total": undelivered, "newest": newest},
        "schema": schema_status(client, settings),
        "loads": loads_status(client, settings),
    }


def loads_status(client: Elasticsearch, settings: Settings, limit: int = 3) -> list[dict[str, Any]]:
    """The newest full loads; a running one with its progress, rate and an estimate of the time left.

    The estimate assumes the source holds about as many records as the served index: the only size
    known before a load has read everything.
    """
    books = Checkpoints(client, settings.state_index)
    rows: list[dict[str, Any]] = []
    for load in books.recent(limit):
        row: dict[str, Any] = dict(progress(books, load, load.status))
        row["started_at"] = load.started_at
        if load.status == "running":
            row.update(_pace(client, settings, row))
        rows.append(row)
    return rows


def _pace(client: Elasticsearch, settings: Settings, row: dict[str, Any]) -> dict[str, Any]:
    so_far = int(row["indexed"]) + int(row["deleted"]) + int(row["skipped"])
    rate = so_far / row["duration_s"] if row["duration_s"] > 0 else 0.0
    served = indices.indices_behind(client, settings.es_index)
    expected = indices.live_count(client, settings.es_index) if served else None
    left = None if not expected or rate <= 0 else max(0.0, (expected - so_far) / rate)
    return {"records_so_far": so_far, "records_per_s": round(rate, 1), "estimated_s_left": left and round(left)}


def schema_status(client: Elasticsearch, settings: Settings) -> dict[str, Any]:
    """Whether the served index was built with the configured ``HERMES_SCHEMA`` and ``HERMES_ANALYSIS``."""
    served = indices.indices_behind(client, settings.es_index)
    if not served:
        return {"behind": False, "message": "no index is served yet: the first full load builds one"}
    meta = indices.managed_meta(client, served[-1])
    differs = [
        name
        for name, built, configured in (
            ("HERMES_SCHEMA", meta.get("hermes_schema", {}), settings.field_schema.recorded()),
            ("HERMES_ANALYSIS", meta.get("hermes_analysis"), settings.analysis),
        )
        if (built or None) != (configured or None)
    ]
    if not differs:
        return {"behind": False, "message": f"{served[-1]} was built with the configured schema and analysis"}
    return {
        "behind": True,
        "message": f"{served[-1]} was built with another {' and '.join(differs)}: "
        "searches use its schema until the next full load",
        "served": meta.get("hermes_schema", {}),
        "configured": settings.field_schema.recorded(),
    }
