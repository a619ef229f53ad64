"""A sliced full load's bookkeeping in the state index: one document per load, one per partition.

::

    load-<id>            status, building index, partitions, which are done, first event, report or error
    load-<id>-p<i>       the partition's cursor, next slice, counts so far, the slice running now (if any)
    claim-<id>-p<i>      the partition's claim (a hermes.load.lock.LoadLock: one slice at a time)
    claim-<id>-pfinish   the finish's claim (one request verifies and swaps, also when a finish is retried)

A partition document has one writer at a time, the slice holding the partition's claim. The load
document is written by every partition's last slice: each adds itself to ``done`` with a
compare-and-set on the document's sequence number (``if_seq_no``/``if_primary_term``), so exactly
one of them sees the list complete and finishes the load.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from hermes.load.cursor import Cursor
from hermes.load.sink import Outcome
from hermes.load.state import read_doc
from hermes.timestamps import format_rfc3339, parse_rfc3339

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

LoadStatus = Literal["running", "finishing", "completed", "failed", "cancelled"]


@dataclass
class Tally:
    """A partition's counts so far (the report's meanings, hermes/load/reports.py), summed over slices."""

    read: int = 0
    indexed: int = 0
    created: int = 0
    deleted: int = 0
    stale: int = 0
    invalid: int = 0
    failed: int = 0
    replayed: int = 0  # stale answers in a slice that resumed after one died: its writes met ours again
    newest_done: str | None = None
    oldest_failed: str | None = None

    def add(self, outcome: Outcome, read: int, *, resumed: bool) -> None:
        self.read += read
        self.indexed += outcome.indexed
        self.created += outcome.created
        self.deleted += outcome.deleted
        self.stale += outcome.stale
        self.invalid += outcome.invalid
        self.failed += outcome.failed
        self.replayed += outcome.stale if resumed else 0
        if outcome.newest_done is not None:
            self.newest_done = _later(self.newest_done, outcome.newest_done)
        if outcome.oldest_failed is not None:
            self.oldest_failed = _earlier(self.oldest_failed, outcome.oldest_failed)

    def merged(self, other: Tally) -> Tally:
        both = Tally(**{k: getattr(self, k) + getattr(other, k) for k in _COUNTS})
        both.newest_done = max(filter(None, (self.newest_done, other.newest_done)), default=None, key=parse_rfc3339)
        both.oldest_failed = min(
            filter(None, (self.oldest_failed, other.oldest_failed)), default=None, key=parse_rfc3339
        )
        return both


_COUNTS = ("read", "indexed", "created", "deleted", "stale", "invalid", "failed", "replayed")


def _later(stored: str | None, when: datetime) -> str:
    return format_rfc3339(when) if stored is None or when > parse_rfc3339(stored) else stored


def _earlier(stored: str | None, when: datetime) -> str:
    return format_rfc3339(when) if stored is None or when < parse_rfc3339(stored) else stored


@dataclass
class LoadRecord:
    """One full load (document ``load-<id>``)."""

    id: str
    index: str
    partitions: int
    started_at: str
    force: bool = False
    status: LoadStatus = "running"
    done: list[int] = field(default_factory=list)
    event_source: str | None = None
    event_id: str | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    seq_no: int = -1
    primary_term: int = -1

    @property
    def owner(self) -> str:
        """The owner name of the load lock while this load holds it."""
        return f"full_load/{self.id}"

    def body(self) -> dict[str, Any]:
        body = {k: v for k, v in asdict(self).items() if k not in ("seq_no", "primary_term")}
        return {**body, "kind": "load", "updated_at": format_rfc3339(datetime.now(UTC))}


@dataclass
class PartitionRecord:
    """One partition of a load (document ``load-<id>-p<i>``)."""

    load: str
    partition: int
    cursor: Cursor
    slice: int = 0  # the next slice to run
    tally: Tally = field(default_factory=Tally)
    running: dict[str, Any] | None = None  # {"slice", "attempt", "started_at"} while a slice works
    pages: int = 0

    @property
    def done(self) -> bool:
        return self.cursor.done

    def body(self) -> dict[str, Any]:
        return {
            "kind": "load_partition",
            "load": self.load,
            "partition": self.partition,
            "cursor": self.cursor.stored(),
            "slice": self.slice,
            "tally": asdict(self.tally),
            "running": self.running,
            "pages": self.pages,
            "updated_at": format_rfc3339(datetime.now(UTC)),
        }


def load_doc_id(load: str) -> str:
    return f"load-{load}"


def partition_doc_id(load: str, partition: int) -> str:
    return f"load-{load}-p{partition}"


def claim_id(load: str, partition: int | str) -> str:
    return f"claim-{load}-p{partition}"


class Checkpoints:
    """Reads and writes the load and partition documents of one state index."""

    def __init__(self, client: Elasticsearch, index: str) -> None:
        self.client = client
        self.index = index

    def create(self, load: LoadRecord, partitions: list[PartitionRecord]) -> None:
        for part in partitions:
            self.save_partition(part)
        resp = self.client.create(index=self.index, id=load_doc_id(load.id), document=load.body(), refresh=True)
        load.seq_no, load.primary_term = int(resp["_seq_no"]), int(resp["_primary_term"])

    def load(self, load_id: str) -> LoadRecord | None:
        doc = read_doc(self.client, self.index, load_doc_id(load_id))
        if doc is None:
            return None
        src = {k: v for k, v in doc["_source"].items() if k not in ("kind", "updated_at")}
        return LoadRecord(**src, seq_no=int(doc["_seq_no"]), primary_term=int(doc["_primary_term"]))

    def save_load(self, load: LoadRecord) -> bool:
        """Write ``load`` if nobody wrote it since it was read (compare-and-set); whether it was written."""
        resp = self.client.options(ignore_status=409).index(
            index=self.index,
            id=load_doc_id(load.id),
            document=load.body(),
            if_seq_no=load.seq_no,
            if_primary_term=load.primary_term,
            refresh=True,
        )
        if resp.meta.status == 409:
            return False
        load.seq_no, load.primary_term = int(resp["_seq_no"]), int(resp["_primary_term"])
        return True

    def partition(self, load_id: str, index: int) -> PartitionRecord | None:
        doc = read_doc(self.client, self.index, partition_doc_id(load_id, index))
        return None if doc is None else _partition(doc["_source"])

    def partitions(self, load: LoadRecord) -> list[PartitionRecord]:
        ids = [partition_doc_id(load.id, i) for i in range(load.partitions)]
        docs = self.client.mget(index=self.index, ids=ids)["docs"]
        return [_partition(d["_source"]) for d in docs if d.get("found")]

    def save_partition(self, part: PartitionRecord) -> None:
        self.client.index(index=self.index, id=partition_doc_id(part.load, part.partition), document=part.body())

    def recent(self, limit: int = 20) -> list[LoadRecord]:
        """The newest loads, newest first."""
        resp = self.client.options(ignore_status=404).search(
            index=self.index, query={"term": {"kind": "load"}}, sort=[{"updated_at": "desc"}], size=limit
        )
        if resp.meta.status == 404:
            return []
        found = (self.load(hit["_source"]["id"]) for hit in resp["hits"]["hits"])
        return [load for load in found if load is not None]

    def tally(self, load: LoadRecord) -> Tally:
        total = Tally()
        for part in self.partitions(load):
            total = total.merged(part.tally)
        return total


def _partition(src: dict[str, Any]) -> PartitionRecord:
    return PartitionRecord(
        load=src["load"],
        partition=int(src["partition"]),
        cursor=Cursor.from_stored(src["cursor"]),
        slice=int(src["slice"]),
        tally=Tally(**src["tally"]),
        running=src.get("running"),
        pages=int(src.get("pages", 0)),
    )
