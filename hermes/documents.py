"""Stored documents and tombstones: the one definition of "live" every function uses.

A tombstone is a document stored with ``deleted: true`` (it keeps its external version
so an older copy cannot resurrect the record; see docs/loads.md § Delta loads). It is never
served: not by search, suggest, get by id or facets, nor counted as served by a load.
"""

from __future__ import annotations

from typing import Any

TOMBSTONE_FLAG = "deleted"
# The query clause matching tombstones; reads put it in ``must_not``.
TOMBSTONES: dict[str, Any] = {"term": {TOMBSTONE_FLAG: True}}
# A query matching exactly the live documents (for counts).
LIVE: dict[str, Any] = {"bool": {"must_not": [TOMBSTONES]}}


def is_live(source: dict[str, Any]) -> bool:
    """True unless the stored document is a tombstone."""
    return not source.get(TOMBSTONE_FLAG)


def public(source: dict[str, Any]) -> dict[str, Any]:
    """The stored document as users see it (the tombstone flag is internal)."""
    return {k: v for k, v in source.items() if k != TOMBSTONE_FLAG}
