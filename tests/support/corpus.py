"""A small fixture corpus, loaded through the real full-load pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stamp(days: int) -> str:
    return (T0 + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def corpus() -> list[dict[str, Any]]:
    """30 filler records plus a few with known properties."""
    records: list[dict[str, Any]] = [
        {
            "id": "title-hit",
            "title": "Lighthouse keepers of Brittany",
            "content": "Stories of the coast.",
            "tags": ["fr", "sea"],
            "updated_at": stamp(40),
        },
        {
            "id": "content-hit",
            "title": "Coastal walks",
            "content": "Past an old lighthouse and a harbour.",
            "tags": ["fr", "walks"],
            "updated_at": stamp(41),
        },
        {"id": "gone", "title": "Lighthouse museum", "updated_at": stamp(42), "deleted": True},
        {
            "id": "xss",
            "title": "Markup <b>bold</b> lighthouse",
            "content": "<script>alert(1)</script>",
            "tags": ["web"],
            "updated_at": stamp(43),
        },
    ]
    for i in range(30):
        records.append(
            {
                "id": f"doc-{i:02d}",
                "title": f"Filler article number {i}",
                "content": "Common words about travel and food.",
                "tags": ["filler", "even" if i % 2 == 0 else "odd"],
                "created_at": stamp(i),
                "updated_at": stamp(i),
                "rating": i,
            }
        )
    return records


def write_ndjson(path: Path, records: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return f"file://{path}"
