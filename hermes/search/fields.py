"""Declared-field parameters of ``GET /search`` (CONTRACT.md § Fields), from the served index's schema.

Pure: query-string arguments in, a checked :class:`FieldQuery` out (400 naming the parameter otherwise);
then the clauses, sort, aggregations and facets Elasticsearch needs. User input fills only values;
field names come from the schema.

Facets are disjunctive: a filter on a facet field goes in ``post_filter`` (it narrows the hits, not
the aggregations), and each facet's aggregation is filtered by every *other* facet field's filter.
Filters on fields without a facet, and ``near``, narrow everything in the query itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import MultiDict

from hermes.errors import BadRequestError
from hermes.schema_light import EMPTY, is_lat_lon
from hermes.timestamps import format_rfc3339, parse_date

if TYPE_CHECKING:
    from hermes.schema import Schema

CORE_SORTS = ("relevance", "updated_at", "-updated_at")
PUBLIC_CORE = ("id", "title", "content", "tags", "created_at", "updated_at")
FACET_SIZE = 20
MAX_VALUES = 20
MAX_VALUE_CHARS = 256
MAX_FIELDS = 50
DEFAULT_RADIUS_KM = 10.0
MAX_RADIUS_KM = 20_000.0  # half the Earth's circumference
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNMAPPED = {"keyword": "keyword", "text": "keyword", "number": "double", "date": "date", "boolean": "boolean"}


@dataclass(frozen=True)
class FieldQuery:
    """The declared-field part of one search, checked against ``schema`` (the served index's)."""

    schema: Schema = EMPTY
    filters: dict[str, list[Any]] = field(default_factory=dict)
    ranges: dict[str, dict[str, Any]] = field(default_factory=dict)
    near: tuple[float, float] | None = None
    radius_km: float = DEFAULT_RADIUS_KM
    sort: str | None = None  # "<name>", "-<name>" or "distance"; None: a core sort
    fields: tuple[str, ...] | None = None
    # A search key's filter (hermes.search.keys), added to the query so hits, totals and facets obey it.
    scope: tuple[dict[str, Any], ...] = ()


NO_FIELDS = FieldQuery()


def scope_clauses(key_filter: Mapping[str, Sequence[str | bool]]) -> tuple[dict[str, Any], ...]:
    """A key's filter as query clauses: any of a field's values, every field (pure). Its fields are
    declared keyword or boolean fields (hermes.search.keys checks), indexed under their own names."""
    return tuple({"terms": {name: list(values)}} for name, values in key_filter.items())


def in_scope(key_filter: Mapping[str, Sequence[str | bool]], source: Mapping[str, Any]) -> bool:
    """Whether a stored document is one a key's filter lets through (``GET /documents/<id>``)."""
    for name, allowed in key_filter.items():
        value = source.get(name)
        values = value if isinstance(value, list) else [value]
        if not any(v == a and type(v) is type(a) for v in values for a in allowed):  # True is not 1
            return False
    return True


def parse(schema: Schema, args: MultiDict[str, str], sort: str) -> FieldQuery:
    """The declared-field parameters of ``args``; ``sort`` is the already-read ``sort`` parameter."""
    filters: dict[str, list[Any]] = {}
    ranges: dict[str, dict[str, Any]] = {}
    for name in args:
        if name.startswith("filter."):
            filters[name[7:]] = _filter(schema, name, args.getlist(name))
        elif name.startswith("range."):
            ranges[name[6:]] = _range(schema, name, _once(args, name))
    near = _near(schema, args)
    radius = _radius(args, near)
    return FieldQuery(schema, filters, ranges, near, radius, _sort(schema, sort, near), _fields(schema, args))


def _once(args: MultiDict[str, str], name: str) -> str:
    values = args.getlist(name)
    if len(values) > 1:
        msg = f"{name} may be given only once"
        raise BadRequestError(msg, parameter=name)
    return values[0]


def _declared(schema: Schema, param: str, flag: str) -> tuple[str, Any]:
    name = param.split(".", 1)[1]
    spec = schema.fields.get(name)
    if spec is None:
        msg = f"{param}: {name!r} is not a declared field"
        raise BadRequestError(msg, parameter=param)
    if not spec.filter or (flag == "range" and not spec.ranged):
        kind = "a number or date field declared with filter: true" if flag == "range" else "declared with filter: true"
        msg = f"{param}: {name!r} takes no {flag}; only a field {kind} does"
        raise BadRequestError(msg, parameter=param)
    return name, spec


def _filter(schema: Schema, param: str, raw: list[str]) -> list[Any]:
    _, spec = _declared(schema, param, "filter")
    if len(raw) > MAX_VALUES:
        msg = f"{param}: at most {MAX_VALUES} values"
        raise BadRequestError(msg, parameter=param)
    if spec.type == "date":  # a full date is that whole day; a date-time, that instant
        return [
            _day(param, v)
            if _DATE_ONLY.fullmatch(v)
            else {"gte": _value("date", param, v), "lte": _value("date", param, v)}
            for v in raw
        ]
    return [_value(spec.type, param, v) for v in raw]


def _day(param: str, raw: str) -> dict[str, str]:
    """The bounds of a whole day: from its midnight (UTC) up to, not including, the next one."""
    _value("date", param, raw)  # a 400 naming the parameter if it is no date
    start = parse_date(raw)
    if start.date() == date.max:
        return {"gte": format_rfc3339(start), "lte": format_rfc3339(datetime.max.replace(tzinfo=UTC))}
    return {"gte": format_rfc3339(start), "lt": format_rfc3339(start + timedelta(days=1))}


def _value(kind: str, param: str, raw: str) -> Any:
    try:
        if not 1 <= len(raw) <= MAX_VALUE_CHARS:
            msg = f"must be 1 to {MAX_VALUE_CHARS} characters"
            raise ValueError(msg)
        if kind == "number":
            return _number(raw)
        if kind == "boolean":
            if raw not in ("true", "false"):
                msg = "must be true or false"
                raise ValueError(msg)
            return raw == "true"
        if kind == "date":
            return format_rfc3339(parse_date(raw))
        return raw
    except ValueError as exc:
        msg = f"{param}: {exc}"
        raise BadRequestError(msg, parameter=param) from None


def _number(raw: str) -> float:
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        msg = "must be a number"
        raise ValueError(msg)
    return number


def _range(schema: Schema, param: str, raw: str) -> dict[str, Any]:
    _, spec = _declared(schema, param, "range")
    low, sep, high = raw.partition("..")
    if not sep or not (low or high):
        msg = f"{param}: must be <min>..<max>, either bound may be empty"
        raise BadRequestError(msg, parameter=param)
    bounds = {op: _value(spec.type, param, text) for op, text in (("gte", low), ("lte", high)) if text}
    if spec.type == "date" and _DATE_ONLY.fullmatch(high):  # inclusive of that whole day
        del bounds["lte"]
        bounds |= {k: v for k, v in _day(param, high).items() if k != "gte"}
    upper = bounds.get("lte", bounds.get("lt"))
    if "gte" in bounds and upper is not None and (bounds["gte"] > upper or bounds["gte"] == bounds.get("lt")):
        msg = f"{param}: the minimum is above the maximum"  # RFC 3339 UTC text sorts as time
        raise BadRequestError(msg, parameter=param)
    return bounds


def _near(schema: Schema, args: MultiDict[str, str]) -> tuple[float, float] | None:
    if "near" not in args:
        return None
    raw = _once(args, "near")
    if schema.geo_field is None:
        msg = "near: no geo_point field is declared"
        raise BadRequestError(msg, parameter="near")
    lat, _, lon = raw.partition(",")
    try:
        point = (_number(lat), _number(lon))
    except ValueError:
        point = (math.nan, math.nan)
    if not is_lat_lon(*point):
        msg = "near: must be <lat>,<lon> in degrees"
        raise BadRequestError(msg, parameter="near")
    return point


def _radius(args: MultiDict[str, str], near: tuple[float, float] | None) -> float:
    if "radius" not in args:
        return DEFAULT_RADIUS_KM
    if near is None:
        msg = "radius: needs near"
        raise BadRequestError(msg, parameter="radius")
    try:
        radius = _number(_once(args, "radius"))
    except ValueError:
        radius = math.nan
    if not 0 < radius <= MAX_RADIUS_KM:
        msg = f"radius: must be kilometres above 0, at most {MAX_RADIUS_KM:g}"
        raise BadRequestError(msg, parameter="radius")
    return radius


def _sort(schema: Schema, sort: str, near: tuple[float, float] | None) -> str | None:
    if sort in CORE_SORTS:
        return None
    if sort == "distance":
        if near is None:
            msg = "sort: distance needs near=<lat>,<lon>"
            raise BadRequestError(msg, parameter="sort")
        return sort
    spec = schema.fields.get(sort.removeprefix("-"))
    if spec is None or not spec.sort:
        msg = f"sort: must be one of {', '.join(sort_values(schema))}"
        raise BadRequestError(msg, parameter="sort")
    return sort


def _fields(schema: Schema, args: MultiDict[str, str]) -> tuple[str, ...] | None:
    if "fields" not in args:
        return None
    names = tuple(dict.fromkeys(_once(args, "fields").split(",")))
    unknown = [n for n in names if n not in PUBLIC_CORE and n not in schema.fields]
    if unknown or len(names) > MAX_FIELDS:
        msg = f"fields: {unknown[0]!r} is neither a core nor a declared field" if unknown else "fields: too many"
        raise BadRequestError(msg, parameter="fields")
    return names


def sort_values(schema: Schema) -> list[str]:
    """Every value ``sort`` takes with this schema."""
    declared = [f"{sign}{name}" for name, spec in schema.fields.items() if spec.sort for sign in ("", "-")]
    return [*CORE_SORTS, *declared, *(["distance"] if schema.geo_field else [])]


# --- Elasticsearch request parts --------------------------------------------------------------------


def _path(schema: Schema, name: str) -> str:
    """Where a field's exact values are: a text field's ``raw`` keyword, else the field itself."""
    return f"{name}.raw" if schema.fields[name].type == "text" else name


def clauses(fq: FieldQuery) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Filters for the query, and per facet field the filters that go in ``post_filter``."""
    schema = fq.schema
    query: list[dict[str, Any]] = []
    faceted: dict[str, list[dict[str, Any]]] = {}
    for name, values in fq.filters.items():
        clause: dict[str, Any] = {"terms": {_path(schema, name): values}}
        if schema.fields[name].type == "date":  # each value is a day or an instant: any of them
            clause = {"bool": {"should": [{"range": {name: v}} for v in values], "minimum_should_match": 1}}
        (faceted.setdefault(name, []) if schema.fields[name].facet else query).append(clause)
    for name, bounds in fq.ranges.items():
        clause = {"range": {name: bounds}}
        (faceted.setdefault(name, []) if schema.fields[name].facet else query).append(clause)
    if fq.near is not None and schema.geo_field is not None:
        lat, lon = fq.near
        query.append(
            {
                "geo_distance": {
                    "distance": f"{fq.radius_km}km",
                    schema.geo_field: {"lat": lat, "lon": lon},
                    "ignore_unmapped": True,
                }
            }
        )
    return query, faceted


def aggregations(schema: Schema, faceted: dict[str, list[dict[str, Any]]], tags: dict[str, Any]) -> dict[str, Any]:
    """The ``tags`` aggregation and one per facet field, each filtered by the other facet fields' filters."""
    aggs: dict[str, Any] = {"tags": tags}
    for name, spec in schema.fields.items():
        if spec.facet:
            aggs[name] = (
                {"stats": {"field": name}}
                if spec.ranged
                else {"terms": {"field": _path(schema, name), "size": FACET_SIZE}}
            )
    if not faceted:
        return aggs
    out = {}
    for name, agg in aggs.items():
        others = [c for other, cs in faceted.items() if other != name for c in cs]
        out[name] = {"filter": {"bool": {"filter": others}}, "aggs": {"facet": agg}}
    return out


def sort_clause(fq: FieldQuery) -> list[dict[str, Any]]:
    """The sort of a declared field or by distance (``fq.sort`` is set)."""
    schema = fq.schema
    if fq.sort == "distance" and fq.near is not None and schema.geo_field is not None:
        lat, lon = fq.near
        by = {
            "_geo_distance": {
                schema.geo_field: {"lat": lat, "lon": lon},
                "order": "asc",
                "unit": "km",
                "ignore_unmapped": True,
            }
        }
        return [by, {"id": "asc"}]
    name = str(fq.sort).removeprefix("-")
    order = "desc" if str(fq.sort).startswith("-") else "asc"
    spec = schema.fields[name]
    by = {_path(schema, name): {"order": order, "missing": "_last", "unmapped_type": _UNMAPPED[spec.type]}}
    return [by, {"id": "asc"}]


def facets(schema: Schema, aggregations: dict[str, Any]) -> dict[str, Any]:
    """The contract's ``facets`` from the aggregations (pure)."""
    out: dict[str, Any] = {}
    for name, wrapped in aggregations.items():
        agg = wrapped.get("facet", wrapped)
        spec = schema.fields.get(name)
        if spec is not None and spec.ranged:
            suffix = "_as_string" if spec.type == "date" and agg.get("count") else ""
            out[name] = {"min": agg.get(f"min{suffix}"), "max": agg.get(f"max{suffix}")}
            if "buckets" in agg:  # an index where the field is no longer a number or date
                out[name] = {"min": None, "max": None}
        elif spec is not None and spec.type == "boolean":  # key_as_string: absent if the index says otherwise
            out[name] = [
                {"value": b.get("key_as_string", str(b["key"])) == "true", "count": b["doc_count"]}
                for b in agg.get("buckets", [])
            ]
        else:
            out[name] = [{"value": b["key"], "count": b["doc_count"]} for b in agg.get("buckets", [])]
    return out
