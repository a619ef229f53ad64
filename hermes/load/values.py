"""Values of declared fields in records: what Elasticsearch would refuse is a rejection here instead.

A record whose declared field holds a value its mapping cannot take (``"price": "cheap"`` for a
``number``) would make Elasticsearch refuse the whole document; the loader skips and reports it
with the field and the reason, as for any invalid record. ``null`` is an absent value; text,
keyword, number and date fields also take a list of values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hermes.schema import Schema, is_lat_lon, is_number
from hermes.timestamps import ES_DATE_TIME, format_rfc3339, parse_date

_LAT_LON = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*")


def is_date(value: object) -> bool:
    """What :func:`hermes.timestamps.parse_date` reads."""
    try:
        parse_date(value)
    except ValueError:
        return False
    return True


def _is_geo_point(value: object) -> bool:
    if isinstance(value, dict):
        return set(value) == {"lat", "lon"} and is_lat_lon(value["lat"], value["lon"])
    if isinstance(value, str):
        found = _LAT_LON.fullmatch(value)
        return found is not None and is_lat_lon(float(found[1]), float(found[2]))
    if isinstance(value, list) and len(value) == 2:  # GeoJSON order: [lon, lat]
        return is_lat_lon(value[1], value[0])
    return False


_CHECKS: dict[str, tuple[Callable[[object], bool], bool, str]] = {
    # type: (check of one value, lists allowed, what is expected)
    "text": (lambda v: isinstance(v, str), True, "a string or a list of strings"),
    "keyword": (lambda v: isinstance(v, str), True, "a string or a list of strings"),
    "number": (is_number, True, "a finite number or a list of them"),
    "date": (is_date, True, "an RFC 3339 date-time with an offset or a date (YYYY-MM-DD), or a list of them"),
    "boolean": (lambda v: isinstance(v, bool), False, "true or false"),
    "geo_point": (_is_geo_point, False, 'a point: {"lat": …, "lon": …}, "lat,lon" or [lon, lat]'),
}


def declared(schema: Schema, document: dict[str, Any]) -> dict[str, Any] | str:
    """``document`` with its declared values as Elasticsearch reads them, or why one cannot be indexed.

    Dates are rewritten as UTC RFC 3339 unless Elasticsearch reads them as given (a full date, or
    ``T`` and at most nine fraction digits): its parser refuses ``2026-01-31 10:00:00z``, which
    :func:`hermes.timestamps.parse_date` reads.
    """
    out = document
    for name, spec in schema.fields.items():
        value = document.get(name)
        if value is None:
            continue
        check, lists, expected = _CHECKS[spec.type]
        values = value if lists and isinstance(value, list) else [value]
        if not all(v is not None and check(v) for v in values):
            return f"{name}: must be {expected} ({spec.type} field of HERMES_SCHEMA)"
        if spec.type == "date":
            dates = [_es_date(v) for v in values]
            if dates != values:
                out = {**out, name: dates if isinstance(value, list) else dates[0]}
    return out


_ES_READABLE = re.compile(rf"\d{{4}}-\d{{2}}-\d{{2}}|{ES_DATE_TIME}")


def _es_date(value: str) -> str:
    return value if _ES_READABLE.fullmatch(value) else format_rfc3339(parse_date(value))
