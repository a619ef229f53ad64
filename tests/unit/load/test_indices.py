from __future__ import annotations

from datetime import UTC, datetime

from hermes.load.indices import is_managed, new_index_name


def test_names_sort_by_time_and_are_recognised() -> None:
    a = new_index_name("documents", datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC))
    b = new_index_name("documents", datetime(2026, 1, 1, 0, 0, 0, 2, tzinfo=UTC))
    assert a == "documents-20260101000000000001"
    assert a < b
    assert is_managed("documents", a)


def test_other_names_are_not_managed() -> None:
    assert not is_managed("documents", "documents.hermes-state")
    assert not is_managed("documents", "documents-archive")
    assert not is_managed("doc", "documents-20260101000000000001")
    assert not is_managed("documents", "documents-20260101000000000001-copy")
