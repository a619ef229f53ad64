"""Load reports: one meaning per key, the same in the full and the delta report, the contract's fields kept."""

from __future__ import annotations

from hermes.load import reports
from hermes.load.reports import Counts, DeltaLoadReport, FullLoadReport
from hermes.load.sink import Outcome

# CONTRACT.md § The loaders: the fields each report carries.
FULL_FIELDS = {"status", "index", "previous_index", "indexed", "skipped", "failed", "duration_s"}
DELTA_FIELDS = {"status", "indexed", "deleted", "skipped", "watermark"}


def test_reports_carry_the_contracts_fields() -> None:
    assert FullLoadReport.__required_keys__ >= FULL_FIELDS
    assert DeltaLoadReport.__required_keys__ >= DELTA_FIELDS


def test_full_and_delta_reports_share_their_counts() -> None:
    shared = FullLoadReport.__required_keys__ & DeltaLoadReport.__required_keys__
    assert Counts.__required_keys__ <= shared


def test_indexed_counts_live_documents_and_deleted_counts_tombstones() -> None:
    outcome = Outcome(indexed=7, created=9, deleted=2, stale=1, invalid=3, failed=4)
    assert reports.counts(outcome) == {"indexed": 7, "deleted": 2, "skipped": 4, "invalid": 3, "failed": 4}


def test_a_redelivered_event_answers_the_stored_report_as_duplicate() -> None:
    counts = {"indexed": 5, "deleted": 1, "skipped": 0, "invalid": 0, "failed": 0}
    stored = {
        "status": "completed",
        "index": "docs-1",
        "previous_index": None,
        **counts,
        "duration_s": 1.5,
        "watermark": "2026-01-01T00:00:00Z",
        "pruned": [],
    }
    assert reports.duplicate(stored) == {**stored, "status": "duplicate"}


def test_a_report_stored_without_deleted_reads_as_no_tombstones() -> None:
    stored = {"status": "completed", "index": "docs-1", "indexed": 5, "skipped": 0, "failed": 0}
    report = reports.duplicate(stored)
    assert (report["status"], report["indexed"], report["deleted"]) == ("duplicate", 5, 0)
    assert report["previous_index"] is None
