"""What a load answers: typed reports, one meaning per key, the same in the full and the delta report.

- ``indexed``: live documents written (created or replaced), tombstones not included;
- ``deleted``: tombstones written (``deleted: true`` records: the document is no longer served);
- ``skipped``: records not applied on purpose: ``invalid`` ones plus those older than what is stored;
- ``invalid``: records that failed validation (dead-lettered; part of ``skipped``);
- ``failed``: records Elasticsearch refused;
- ``watermark``: the stored watermark after the load (RFC 3339), ``None`` before any full load;
- ``duration_s``: seconds the load took.

The JSON is the contract's (CONTRACT.md § The loaders); the ``TypedDict`` s name its shape for mypy.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from hermes.load.sink import Outcome


class Counts(TypedDict):
    """What happened to the records of one load (see the module docstring)."""

    indexed: int
    deleted: int
    skipped: int
    invalid: int
    failed: int


class FullLoadReport(Counts):
    """A full load: ``completed``, or ``duplicate`` for a redelivered event (the first delivery's report)."""

    status: Literal["completed", "duplicate"]
    index: str
    previous_index: str | None
    duration_s: float
    watermark: str
    pruned: list[str]


class ProgressReport(Counts):
    """A full load that goes on in later requests: ``continuing``; a hand-over already taken: ``duplicate``;
    a hand-over for a load that ended without completing: ``failed`` or ``cancelled``, with its ``error``."""

    status: Literal["continuing", "duplicate", "failed", "cancelled"]
    load: str
    index: str
    partitions: int
    partitions_done: int
    slices: int
    duration_s: float
    error: str | None


class DeltaLoadReport(Counts):
    """A delta load: ``applied``, or ``deferred`` (all counts 0) while a full load runs."""

    status: Literal["applied", "deferred"]
    watermark: str | None
    duration_s: float


class RollbackReport(TypedDict):
    """``python -m hermes rollback``: the index now served and the one it replaced."""

    status: Literal["rolled_back"]
    index: str
    previous_index: str | None


def counts(outcome: Outcome) -> Counts:
    """The report's counts of a run's outcome."""
    return {
        "indexed": outcome.indexed,
        "deleted": outcome.deleted,
        "skipped": outcome.skipped,
        "invalid": outcome.invalid,
        "failed": outcome.failed,
    }


NO_COUNTS: Counts = {"indexed": 0, "deleted": 0, "skipped": 0, "invalid": 0, "failed": 0}


def duplicate(stored: dict[str, Any]) -> FullLoadReport:
    """The stored report of a completed event, answered again as ``duplicate``.

    A report stored before ``deleted`` was its own key counted tombstones in ``indexed``; it reads as is.
    """
    return {
        "status": "duplicate",
        "index": str(stored["index"]),
        "previous_index": stored.get("previous_index"),
        "indexed": int(stored.get("indexed", 0)),
        "deleted": int(stored.get("deleted", 0)),
        "skipped": int(stored.get("skipped", 0)),
        "invalid": int(stored.get("invalid", 0)),
        "failed": int(stored.get("failed", 0)),
        "duration_s": float(stored.get("duration_s", 0.0)),
        "watermark": str(stored.get("watermark", "")),
        "pruned": list(stored.get("pruned", [])),
    }
