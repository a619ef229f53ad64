"""Data indices behind the alias: naming, creation, atomic swap, pruning."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hermes.documents import LIVE
from hermes.errors import IndexRejectedError, LoadFailedError, NotGreenError, UnavailableError
from hermes.load.mappings import SERVING_SETTINGS, IndexShape, index_body
from hermes.schema import EMPTY, Schema

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

_STAMP = "%Y%m%d%H%M%S%f"


def new_index_name(alias: str, now: datetime | None = None) -> str:
    """``<alias>-<UTC timestamp to the microsecond>``; sorts by creation time."""
    return f"{alias}-{(now or datetime.now(UTC)).strftime(_STAMP)}"


def is_managed(alias: str, name: str) -> bool:
    """True for names :func:`new_index_name` makes for this alias, and only those."""
    return re.fullmatch(re.escape(alias) + r"-\d{20}", name) is not None


def create_index(
    client: Elasticsearch,
    name: str,
    schema: Schema = EMPTY,
    analysis: dict[str, Any] | None = None,
    *,
    bulk: bool = False,
    shape: IndexShape | None = None,
) -> None:
    """Create a data index with the current mappings (bulk-friendly, with its writer alias, if asked).

    ``shape`` (``IndexShape.from_settings``; default one shard, ``auto_expand_replicas: 0-1``) gives
    its shards now and, recorded in its ``_meta``, the replicas :func:`finish_bulk` restores.

    Elasticsearch checks analyzers only here (a ``HERMES_ANALYSIS`` needing a module the cluster lacks,
    an ``analyzer`` it does not know): its refusal becomes an :class:`IndexRejectedError` with its reason.
    """
    from elasticsearch import BadRequestError  # noqa: PLC0415

    aliases: dict[str, Any] | None = {writer_alias(name): {}} if bulk else None
    try:
        client.indices.create(index=name, aliases=aliases, **index_body(schema, analysis, bulk=bulk, shape=shape))
    except BadRequestError as exc:
        error = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
        reason = error.get("reason", str(exc)) if isinstance(error, dict) else str(exc)
        msg = f"Elasticsearch refused the new index (check HERMES_SCHEMA and HERMES_ANALYSIS): {reason}"
        raise IndexRejectedError(msg) from None


def writer_alias(index: str) -> str:
    """The alias a full load writes through while it builds ``index``.

    Loads write only through aliases, with ``require_alias``: if the index disappears
    mid-load (an operator, another run's prune), its alias goes with it and the writes
    fail instead of making Elasticsearch auto-create an index with dynamic mappings.
    """
    return f"{index}.writer"


def drop_writer_alias(client: Elasticsearch, index: str) -> None:
    """Remove the writer alias once the build is done."""
    client.options(ignore_status=404).indices.delete_alias(index=index, name=writer_alias(index))  # a retried finish


def finish_bulk(client: Elasticsearch, name: str, *, timeout_s: float = 120.0) -> None:
    """Restore serving settings after a bulk build, then make everything searchable.

    The replicas come back as the index recorded them at creation (its ``hermes_shape``). Then every
    primary must be active (a node lost mid-load takes its primaries with it until it rejoins): the
    refresh, and the count the verification makes after it, would otherwise see only part of the index.
    Raises :class:`UnavailableError` (nothing served changed) when a primary is still missing after
    ``timeout_s`` or the refresh misses a shard.
    """
    shape = IndexShape.from_recorded(managed_meta(client, name).get("hermes_shape"))
    serving = {k: v for k, v in SERVING_SETTINGS.items() if k not in {"number_of_shards", "auto_expand_replicas"}}
    client.indices.put_settings(index=name, settings={**serving, **shape.serving()})
    wait_primaries(client, name, timeout_s)
    shards = client.indices.refresh(index=name).get("_shards", {})
    if shards.get("failed"):
        msg = (
            f"the refresh of {name} reached {shards.get('successful')} of {shards.get('total')} shard copies "
            "(a node left?); its count would be partial: the alias did not move"
        )
        raise UnavailableError(msg)


def wait_primaries(client: Elasticsearch, name: str, timeout_s: float) -> None:
    """Return once every primary shard of ``name`` is active (yellow or green).

    A node that left with a primary and no replica (a building index has none) makes that shard
    unavailable until the node rejoins and recovers it from its disk. Raises :class:`UnavailableError`.
    """
    health = client.options(ignore_status=408, request_timeout=timeout_s + 30).cluster.health(
        index=name, wait_for_status="yellow", timeout=f"{max(1, round(timeout_s))}s"
    )
    if health.get("timed_out") or health.get("status") not in {"yellow", "green"}:
        msg = (
            f"index {name} is {health.get('status')} after {timeout_s:g} s: a primary shard is unavailable "
            "(its node left); the alias did not move"
        )
        raise UnavailableError(msg)


def wait_green(client: Elasticsearch, name: str, timeout_s: float) -> None:
    """Return once ``name`` is green: its primary and every replica allocated and started.

    A swap before that would serve an index one node loss away from red. Raises
    :class:`NotGreenError` (a retryable 502: nothing served changed) after ``timeout_s``.
    """
    health = client.options(ignore_status=408, request_timeout=timeout_s + 30).cluster.health(
        index=name, wait_for_status="green", timeout=f"{max(1, round(timeout_s))}s"
    )
    if health.get("timed_out") or health.get("status") != "green":
        msg = (
            f"index {name} is {health.get('status')} after {timeout_s:g} s: "
            f"{health.get('unassigned_shards')} shard copies unassigned (HERMES_GREEN_TIMEOUT_S); "
            "the alias did not move"
        )
        raise NotGreenError(msg)


def indices_behind(client: Elasticsearch, alias: str) -> list[str]:
    """Indices the alias points to now ([] if the alias does not exist)."""
    found = client.options(ignore_status=404).indices.get_alias(name=alias)
    if found.meta.status == 404:
        return []
    return sorted(found.body)


def managed_indices(client: Elasticsearch, alias: str) -> dict[str, dict[str, Any]]:
    """Every ``<alias>-<stamp>`` index with its mapping ``_meta``."""
    found = client.options(ignore_status=404).indices.get_mapping(index=f"{alias}-*", expand_wildcards="open,closed")
    if found.meta.status == 404:
        return {}
    return {
        name: dict(body.get("mappings", {}).get("_meta", {}))
        for name, body in found.body.items()
        if is_managed(alias, name)
    }


def swap_alias(client: Elasticsearch, alias: str, new: str, *, retired_meta: dict[str, Any] | None = None) -> list[str]:
    """Point the alias at ``new`` only, in one atomic ``_aliases`` request, and nothing after it.

    The indices served now are marked retired (with ``retired_meta`` added to their
    ``_meta``) *before* the swap, so no call can fail once the alias has moved; a retired
    mark on an index that is still served means nothing (``prune`` and rollback skip
    served indices, and the next retirement overwrites it). Returns the indices the alias
    pointed to before.
    """
    previous = [old for old in indices_behind(client, alias) if old != new]
    for old in previous:
        mark_retired(client, old, extra=retired_meta)
    actions: list[dict[str, Any]] = [{"remove": {"index": old, "alias": alias}} for old in previous]
    actions.append({"add": {"index": new, "alias": alias}})
    client.indices.update_aliases(actions=actions)
    return previous


def serves(client: Elasticsearch, alias: str, index: str) -> bool:
    """Whether the alias points at ``index``; True when that cannot be told (Elasticsearch unreachable).

    Callers delete ``index`` only on False: a served index must never be deleted, and an
    unserved one kept by mistake is an orphan the next load prunes.
    """
    try:
        return index in indices_behind(client, alias)
    except Exception:
        return True


def mark_retired(
    client: Elasticsearch,
    name: str,
    *,
    extra: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Record in the index's own ``_meta`` when it stopped being served."""
    meta = {**managed_meta(client, name), **(extra or {})}
    meta["retired_at"] = (now or datetime.now(UTC)).isoformat()
    client.indices.put_mapping(index=name, meta=meta)


def served_schema(client: Elasticsearch, alias: str) -> Schema:
    """The schema the index behind the alias was built with (the newest one, should there be two)."""
    from pydantic import ValidationError  # noqa: PLC0415

    served = indices_behind(client, alias)
    if not served:
        return EMPTY
    try:
        return Schema.from_recorded(managed_meta(client, served[-1]).get("hermes_schema"))
    except ValidationError:
        msg = f"{served[-1]} records a schema this Hermes cannot read: run a full load with this version"
        raise LoadFailedError(msg) from None


def managed_meta(client: Elasticsearch, name: str) -> dict[str, Any]:
    """The ``_meta`` of one index's mapping."""
    body = client.indices.get_mapping(index=name).body
    return dict(body[name]["mappings"].get("_meta", {}))


def prune(client: Elasticsearch, alias: str, *, keep: int, grace_s: float, now: datetime | None = None) -> list[str]:
    """Delete unserved indices beyond the ``keep`` most recently retired ones.

    Retired indices are deleted only ``grace_s`` after retirement (in-flight
    searches may still read them). Indices never served are orphans of a crashed
    load; callers hold the load lock, so nobody is writing them. Returns deleted names.
    """
    now = now or datetime.now(UTC)
    served = set(indices_behind(client, alias))
    retired: list[tuple[str, str]] = []
    doomed: list[str] = []
    for name, meta in managed_indices(client, alias).items():
        if name in served:  # whatever its _meta says
            continue
        if "retired_at" in meta:
            retired.append((str(meta["retired_at"]), name))
        else:
            doomed.append(name)
    retired.sort(reverse=True)
    for stamp, name in retired[keep:]:
        if (now - datetime.fromisoformat(stamp)).total_seconds() >= grace_s:
            doomed.append(name)
    if doomed:
        client.indices.delete(index=",".join(sorted(doomed)))
    return sorted(doomed)


def live_count(client: Elasticsearch, index: str) -> int:
    """Documents that are served (tombstones excluded)."""
    return int(client.count(index=index, query=LIVE)["count"])
