"""RFC 3339 parsing and formatting at the calendar's edges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hermes.timestamps import format_rfc3339, parse_rfc3339


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+00:01", "2026-02-30T00:00:00Z"])
def test_out_of_range_timestamps_are_invalid_not_overflows(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9999-12-31T23:59:59+01:00", "9999-12-31T22:59:59.000000Z"),
        ("0001-01-01T00:01:00+00:01", "0001-01-01T00:00:00.000000Z"),
        ("2026-03-01 12:00:00.5+02:00", "2026-03-01T10:00:00.500000Z"),
    ],
)
def test_edges_that_exist_round_trip(text: str, expected: str) -> None:
    assert format_rfc3339(parse_rfc3339(text)) == expected
    assert parse_rfc3339(expected) == parse_rfc3339(text)


def test_years_before_1000_keep_four_digits() -> None:
    assert format_rfc3339(datetime(999, 5, 6, 7, 8, 9, 10, tzinfo=UTC)) == "0999-05-06T07:08:09.000010Z"
