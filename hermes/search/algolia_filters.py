"""Algolia's ``facetFilters`` and ``numericFilters``: grammar, checks against the schema, and their place in a
Hermes search (pure).

Both are an AND of entries, each a filter or an inner array (an OR of filters), as InstantSearch's helper builds
them (npm ``algoliasearch-helper@3.29.4``, ``src/requestBuilder.js`` ``_getFacetFilters``, ``_getNumericFilters``):
``["language:en", ["authors:Leo Tolstoy", "authors:Victor Hugo"]]``, ``["pages>=100", "pages<=500"]``. The text form
``"a:b,(c:d,e:f)"`` (commas AND, parentheses OR) is read too.

The clauses are Hermes's own: a filter on one field becomes that field's ``filter.<name>`` values (facet fields go in
``post_filter``, so facet counts stay disjunctive, as InstantSearch expects), a range becomes ``range.<name>``; only
what those cannot say (a negation, an OR across fields, a second AND on the same field) is added as a clause beside
them, built from the same values.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from hermes.errors import BadRequestError
from hermes.schema import Schema
from hermes.search import fields
from hermes.search.fields import FieldQuery

TAGS = "tags"  # the core keyword field InstantSearch may facet and filter on, beside the declared ones
_NUMERIC = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*(<=|>=|!=|<|>|=)\s*(\S+)\s*$")
_BETWEEN = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*:\s*(\S+)\s+TO\s+(\S+)\s*$")
_OPS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


@dataclass(frozen=True)
class FacetFilter:
    """``field:value``; ``negated`` for ``field:-value``."""

    field: str
    value: str
    negated: bool = False


@dataclass(frozen=True)
class NumericFilter:
    """``field <op> number``: ``bounds`` as a range query's (``{"gte": 3}``); ``negated`` for ``!=``."""

    field: str
    bounds: tuple[tuple[str, float], ...]
    negated: bool = False


@dataclass
class Translated:
    """Where the filters go in a Hermes search: ``filter.<name>`` values, ``range.<name>`` bounds, ``tag``s
    (every one must match) and extra clauses."""

    filters: dict[str, list[Any]] = field(default_factory=dict)
    ranges: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    clauses: list[dict[str, Any]] = field(default_factory=list)


def groups(raw: str | list[str | list[str]]) -> list[list[str]]:
    """The AND of OR-groups of a filter parameter, from its array or text form."""
    if isinstance(raw, list):
        return [[entry] if isinstance(entry, str) else list(entry) for entry in raw]
    out: list[list[str]] = []
    for part in re.findall(r"\(([^)]*)\)|([^,()]+)", raw):
        inner, single = part
        items = [s.strip() for s in (inner.split(",") if inner else [single])]
        if any(items):
            out.append([s for s in items if s])
    return out


def facet_filter(text: str) -> FacetFilter:
    """``field:value``, ``field:-value`` (not), ``field:\\-value`` (a value that starts with ``-``)."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or not value:
        msg = f"facetFilters: {text!r} is not field:value"
        raise BadRequestError(msg, parameter="facetFilters")
    negated = value.startswith("-")
    value = value[1:] if negated else value
    if value.startswith("\\-"):
        value = value[1:]
    return FacetFilter(name.strip(), value, negated)


def numeric_filter(text: str) -> NumericFilter:
    """``field <op> n`` with ``<``, ``<=``, ``=``, ``!=``, ``>=``, ``>``, or ``field:low TO high`` (inclusive)."""
    between = _BETWEEN.match(text)
    if between:
        name, low, high = between.groups()
        return NumericFilter(name, (("gte", _number(low, text)), ("lte", _number(high, text))))
    match = _NUMERIC.match(text)
    if match is None:
        msg = f"numericFilters: {text!r} is not field<op>number (op: <, <=, =, !=, >=, >) nor field:low TO high"
        raise BadRequestError(msg, parameter="numericFilters")
    name, op, raw = match.groups()
    number = _number(raw, text)
    if op in ("=", "!="):
        return NumericFilter(name, (("gte", number), ("lte", number)), negated=op == "!=")
    return NumericFilter(name, ((_OPS[op], number),))


def _number(raw: str, text: str) -> float:
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        msg = f"numericFilters: {raw!r} in {text!r} is not a number"
        raise BadRequestError(msg, parameter="numericFilters")
    return number


def translate(
    schema: Schema,
    facet_raw: str | list[str | list[str]],
    numeric_raw: str | list[str | list[str]],
) -> Translated:
    """Both parameters as parts of a Hermes search, checked against ``schema`` (400 naming the parameter)."""
    out = Translated()
    for group in groups(facet_raw):
        _facet_group(schema, [facet_filter(t) for t in group], out)
    for group in groups(numeric_raw):
        _numeric_group(schema, [numeric_filter(t) for t in group], out)
    return out


def _facet_group(schema: Schema, group: list[FacetFilter], out: Translated) -> None:
    names = {f.field for f in group}
    positive = not any(f.negated for f in group)
    if names == {TAGS} and positive and len(group) == 1:
        out.tags.append(group[0].value)
        return
    if len(names) == 1 and positive and TAGS not in names and group[0].field not in out.filters:
        out.filters[group[0].field] = _values(schema, group[0].field, [f.value for f in group])
        return
    alternatives = [_facet_clause(schema, f) for f in group]
    out.clauses.append(_any(alternatives))


def _facet_clause(schema: Schema, one: FacetFilter) -> dict[str, Any]:
    if one.field == TAGS:
        clause: dict[str, Any] = {"terms": {TAGS: [one.value]}}
    else:
        query, faceted = fields.clauses(FieldQuery(schema, {one.field: _values(schema, one.field, [one.value])}))
        clause = (query or faceted[one.field])[0]
    return {"bool": {"must_not": [clause]}} if one.negated else clause


def _values(schema: Schema, name: str, values: list[str]) -> list[Any]:
    """The values as ``filter.<name>`` reads them: a declared filter field, values of its type."""
    try:
        return fields.parse(schema, MultiDict([(f"filter.{name}", v) for v in values]), "relevance").filters[name]
    except BadRequestError as exc:
        msg = "facetFilters: " + exc.message.removeprefix(f"filter.{name}: ")
        if schema.fields.get(name) is None:
            msg = f"facetFilters: {name!r} is neither tags nor a declared field"
        raise BadRequestError(msg, parameter="facetFilters") from None


def _numeric_group(schema: Schema, group: list[NumericFilter], out: Translated) -> None:
    for one in group:
        spec = schema.fields.get(one.field)
        if spec is None or spec.type != "number" or not spec.filter:
            msg = f"numericFilters: {one.field!r} is not a declared number field with filter: true"
            raise BadRequestError(msg, parameter="numericFilters")
    if len(group) == 1 and not group[0].negated:
        bounds = out.ranges.get(group[0].field, {})
        if not any(op in bounds for op, _ in group[0].bounds):  # else: a second bound of one kind, a clause
            out.ranges[group[0].field] = bounds | dict(group[0].bounds)
            return
    alternatives = [_range_clause(one) for one in group]
    out.clauses.append(_any(alternatives))


def _range_clause(one: NumericFilter) -> dict[str, Any]:
    clause: dict[str, Any] = {"range": {one.field: dict(one.bounds)}}
    return {"bool": {"must_not": [clause]}} if one.negated else clause


def _any(alternatives: list[dict[str, Any]]) -> dict[str, Any]:
    if len(alternatives) == 1:
        return alternatives[0]
    return {"bool": {"should": alternatives, "minimum_should_match": 1}}
