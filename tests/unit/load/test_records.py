from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hermes.load.records import Operation, Rejected, to_operation, version_of
from hermes.timestamps import parse_rfc3339


def test_valid_record_becomes_an_operation_keeping_unknown_fields() -> None:
    op = to_operation({"id": "a", "updated_at": "2026-01-02T03:04:05+02:00", "title": "T", "extra": {"x": 1}})
    assert isinstance(op, Operation)
    assert op.document["extra"] == {"x": 1}
    assert op.document["updated_at"] == "2026-01-02T03:04:05+02:00"  # Elasticsearch reads it as is
    assert op.document["deleted"] is False
    assert op.updated_at == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)


def test_timestamps_elasticsearch_cannot_read_are_normalised() -> None:
    op = to_operation({"id": "a", "updated_at": "2026-01-02 03:04:05z", "created_at": "2026-01-01t00:00:00+01:00"})
    assert isinstance(op, Operation)
    assert op.document["updated_at"] == "2026-01-02T03:04:05.000000Z"
    assert op.document["created_at"] == "2025-12-31T23:00:00.000000Z"


def test_tombstone_keeps_only_what_it_needs() -> None:
    op = to_operation({"id": "a", "updated_at": "2026-01-02T00:00:00Z", "deleted": True, "content": "x"})
    assert isinstance(op, Operation)
    assert op.deleted
    assert op.document == {"id": "a", "updated_at": "2026-01-02T00:00:00Z", "deleted": True}


def test_newer_means_higher_version() -> None:
    older = parse_rfc3339("2026-01-01T00:00:00.000001Z")
    newer = parse_rfc3339("2026-01-01T00:00:00.000002Z")
    assert version_of(newer) == version_of(older) + 1
    assert version_of(older) > 0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"updated_at": "2026-01-01T00:00:00Z"}, "id"),
        ({"id": "", "updated_at": "2026-01-01T00:00:00Z"}, "id"),
        ({"id": 7, "updated_at": "2026-01-01T00:00:00Z"}, "id"),
        ({"id": "a"}, "updated_at"),
        ({"id": "a", "updated_at": "yesterday"}, "updated_at"),
        ({"id": "a", "updated_at": "2026-01-01T00:00:00"}, "updated_at"),  # no offset
        ({"id": "a", "updated_at": 1767225600}, "updated_at"),  # epoch numbers are not RFC 3339
        ({"id": "a", "updated_at": "2026-01-01T00:00:00Z", "tags": "fr"}, "tags"),
        ({"id": "a", "updated_at": "2026-01-01T00:00:00Z", "deleted": "yes"}, "deleted"),
        ({"id": "a", "updated_at": "1960-01-01T00:00:00Z"}, "updated_at"),
    ],
)
def test_invalid_records_are_rejected_with_id_and_reason(raw: dict[str, object], reason: str) -> None:
    result = to_operation(raw)
    assert isinstance(result, Rejected)
    assert reason in result.reason
    assert result.id == (raw["id"] if isinstance(raw.get("id"), str) else None)


def test_non_object_is_rejected() -> None:
    result = to_operation(["not", "a", "record"])
    assert isinstance(result, Rejected)
    assert "list" in result.reason


def test_an_offset_beyond_eighteen_hours_is_stored_in_utc() -> None:
    # RFC 3339 allows -23:59; Elasticsearch (java.time) refuses offsets beyond ±18:00.
    op = to_operation({"id": "x", "updated_at": "2026-01-02T00:00:00-23:59", "created_at": "2026-01-01T00:00:00+18:01"})
    assert isinstance(op, Operation)
    assert op.document["updated_at"] == "2026-01-02T23:59:00.000000Z"
    assert op.document["created_at"] == "2025-12-31T05:59:00.000000Z"
    kept = to_operation({"id": "y", "updated_at": "2026-01-02T00:00:00+18:00"})
    assert isinstance(kept, Operation)
    assert kept.document["updated_at"] == "2026-01-02T00:00:00+18:00"
