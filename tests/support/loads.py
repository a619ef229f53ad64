"""Builders shared by the load tests: numbered records, and the ids the alias serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.datasource import record

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def records(n: int, start: int = 0) -> list[dict[str, Any]]:
    """``n`` valid records ``r<start>``…, one second apart from :data:`T0`."""
    return [record(f"r{i}", T0 + timedelta(seconds=i)) for i in range(start, start + n)]


def served_ids(es: Any, alias: str) -> set[str]:
    """The ids the alias serves (tombstones left out)."""
    hits = es.search(index=alias, query={"term": {"deleted": False}}, size=1000, source=False)["hits"]["hits"]
    return {h["_id"] for h in hits}
