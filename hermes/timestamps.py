"""RFC 3339 timestamps: the one parser and formatter every function uses."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

# RFC 3339 date-time: date, 'T' or space, time, optional fraction, mandatory offset.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
# What Elasticsearch's default date format reads as given. RFC 3339 allows offsets up to ±23:59, but
# Elasticsearch (java.time's ZoneOffset) refuses any beyond ±18:00: such a timestamp is rewritten in UTC.
ES_DATE_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-](?:(?:0\d|1[0-7]):[0-5]\d|18:00))"


def parse_rfc3339(value: object) -> datetime:
    """Parse an RFC 3339 timestamp (offset required) into an aware UTC datetime."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        msg = "must be an RFC 3339 timestamp with an offset, e.g. 2026-01-31T12:00:00Z"
        raise ValueError(msg)
    try:
        return datetime.fromisoformat(value.replace(" ", "T").upper()).astimezone(UTC)
    except (OverflowError, ValueError):  # 9999-12-31T23:59:59-01:00 is in year 10000 in UTC
        msg = "must be a valid RFC 3339 timestamp between years 1 and 9999 in UTC"
        raise ValueError(msg) from None


_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(value: object) -> datetime:
    """A value of a declared ``date`` field: an RFC 3339 date-time, or a full date (``2026-01-31``,
    midnight UTC) as Elasticsearch's default date format also reads it."""
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value):
        try:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        except ValueError:
            msg = "must be a valid date"
            raise ValueError(msg) from None
    return parse_rfc3339(value)


def format_rfc3339(value: datetime) -> str:
    """UTC, microseconds, ``Z`` suffix, four-digit year: sorts as text and parses everywhere.

    (``strftime("%Y")`` writes year 1 as ``1``, not ``0001``, on glibc.)
    """
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
