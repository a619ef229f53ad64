"""The loaders' bookkeeping in a small state index: watermark, completed events, dead letters
(rejected records) and undelivered events (what the dead-letter Broker received).

The state index is named ``<alias>.hermes-state``: no ``<alias>-*`` pattern of the
data indices can match it, so pruning never touches it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hermes.client import error_type
from hermes.load.mappings import STATE_MAPPINGS
from hermes.load.records import Rejected
from hermes.timestamps import format_rfc3339, parse_rfc3339

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)

WATERMARK_ID = "watermark"


@dataclass(frozen=True)
class Undelivered:
    """An event a Broker gave up on, as its dead-letter sink receives it.

    Knative adds ``knativeerrorcode`` (the last HTTP status), ``knativeerrordest`` (where it
    failed) and ``knativeerrordata`` (the reply body, base64) to a dead-lettered event
    (knative/eventing pkg/kncloudevents/event_dispatcher.go, ``dispatchExecutionInfoTransformers``).
    """

    type: str
    source: str
    id: str
    error_code: str | None
    error_dest: str | None
    error_data: str | None
    load: str | None = None  # the full load a dead-lettered hand-over belonged to, its partition and slice
    partition: int = 0
    slice: int | None = None


class State:
    """Reads and writes the state documents of one alias (the lock lives in ``hermes.load.lock``)."""

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
        if resp.meta.status == 400 and error_type(resp.body) != "resource_already_exists_exception":
            msg = f"cannot create state index {self.index}: {resp.body}"
            raise RuntimeError(msg)

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
            document={
                "kind": "watermark",
                "value": format_rfc3339(value),
                "index": index,
                "updated_at": format_rfc3339(datetime.now(UTC)),
            },
            refresh=True,
        )

    # --- completed events ----------------------------------------------------------------------

    @staticmethod
    def event_key(source: str, event_id: str) -> str:
        digest = hashlib.sha256(f"{source}\x00{event_id}".encode()).hexdigest()
        return f"event-{digest}"

    def completed_event(self, source: str, event_id: str) -> dict[str, Any] | None:
        """The report of an event that already completed, or None."""
        doc = self._get(self.event_key(source, event_id))
        report = None if doc is None else doc["_source"].get("report")
        return dict(report) if report else None

    def event_load(self, source: str, event_id: str) -> str | None:
        """The id of the load this event started, or None."""
        doc = self._get(self.event_key(source, event_id))
        return None if doc is None else doc["_source"].get("load")

    def remember_load(self, source: str, event_id: str, load: str) -> None:
        """Note which load this event started: a redelivery while it runs answers for that load."""
        self._remember(source, event_id, {"load": load, "report": None})

    def remember_event(self, source: str, event_id: str, report: Mapping[str, object]) -> None:
        """Keep the report of a completed event: a redelivery answers it as a duplicate."""
        self._remember(source, event_id, {"report": report})

    def _remember(self, source: str, event_id: str, fields: Mapping[str, object]) -> None:
        document = {"kind": "event", "source": source, "event_id": event_id, **fields}
        document["updated_at"] = format_rfc3339(datetime.now(UTC))
        self.client.index(index=self.index, id=self.event_key(source, event_id), document=document, refresh=True)

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
                # One document per record id and version: a delta's overlap re-reads the same invalid
                # record every tick; it is kept once (the newest reason wins), not once per tick.
                {
                    "_index": self.index,
                    "_id": _dead_letter_id(r),
                    "_source": {
                        "kind": "dead_letter",
                        "load": load,
                        "record_id": r.id,
                        "record_version": r.version,
                        "reason": r.reason,
                        "updated_at": now,
                    },
                }
                for r in rejected
            ),
            refresh=True,
        )

    def dead_letters(self, limit: int = 100) -> tuple[int, list[dict[str, Any]]]:
        """How many dead letters there are, and the newest ``limit`` of them."""
        return self._kind("dead_letter", limit)

    def clear_dead_letters(self) -> int:
        """Forget every dead letter (after an operator fixed the source)."""
        from elasticsearch import helpers  # noqa: PLC0415

        ids = [
            h["_id"]
            for h in self.client.search(
                index=self.index, query={"term": {"kind": "dead_letter"}}, size=10_000, source=False
            )["hits"]["hits"]
        ]
        # One bulk request, not one delete each (delete_by_query lives in a module minimal
        # distributions lack).
        actions = ({"_op_type": "delete", "_index": self.index, "_id": doc_id} for doc_id in ids)
        helpers.bulk(self.client, actions, refresh=True)
        return len(ids)

    # --- events a Broker gave up on ------------------------------------------------------------

    def record_undelivered(self, event: Undelivered) -> None:
        """Keep an event the dead-letter Broker delivered (once per source + id)."""
        digest = hashlib.sha256(f"{event.source}\x00{event.id}".encode()).hexdigest()
        self.client.index(
            index=self.index,
            id=f"undelivered-{digest}",
            refresh=True,
            document={
                "kind": "undelivered_event",
                "event_type": event.type,
                "source": event.source,
                "event_id": event.id,
                "error_code": event.error_code,
                "error_dest": event.error_dest,
                "error_data": event.error_data,
                "updated_at": format_rfc3339(datetime.now(UTC)),
            },
        )

    def undelivered(self, limit: int = 5) -> tuple[int, list[dict[str, Any]]]:
        """How many events were dead-lettered, and the newest ``limit`` of them."""
        return self._kind("undelivered_event", limit)

    def _kind(self, kind: str, limit: int) -> tuple[int, list[dict[str, Any]]]:
        resp = self.client.options(ignore_status=404).search(
            index=self.index,
            query={"term": {"kind": kind}},
            sort=[{"updated_at": "desc"}],
            size=limit,
            track_total_hits=True,
        )
        if resp.meta.status == 404:
            return 0, []
        return int(resp["hits"]["total"]["value"]), [h["_source"] for h in resp["hits"]["hits"]]

    def _get(self, doc_id: str) -> dict[str, Any] | None:
        return read_doc(self.client, self.index, doc_id)


def _dead_letter_id(rejected: Rejected) -> str:
    key = f"{rejected.id}\x00{rejected.version}" if rejected.id is not None else f"\x00{rejected.reason}"
    return "dead-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def read_doc(client: Elasticsearch, index: str, doc_id: str) -> dict[str, Any] | None:
    """One document of the state index with its sequence number, or None (also when the index is missing)."""
    resp = client.options(ignore_status=404).get(index=index, id=doc_id)
    return None if resp.meta.status == 404 else dict(resp.body)
