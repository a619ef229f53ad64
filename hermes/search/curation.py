"""The rules matched by a query, applied to its ``_search`` body: core queries only (docs/relevance.md).

- **Synonyms**: the query's text part OR'd with the text part of each variant's own body (built by the
  same code as the query's, so typo tolerance, phrases and exclusions hold in every variant); highlights
  cover the variants too.
- **Pins** (relevance-sorted searches only): the text part OR'd with one ``constant_score`` ``ids`` clause
  per pinned id, with boosts far above any text score and decreasing in pin order. Pins bypass text
  matching only: they sit beside the text part, under the body's ``filter`` (the search's filters, a search
  key's filter), so a pin never brings in a document the filters exclude. With another sort, pins are not
  applied: the caller asked for an order.
- **Hides**: ``ids`` in the query's ``must_not``: gone from hits, totals and facets.

Elasticsearch's ``pinned`` query is a licensed feature and synonym filters need the analysis module: neither
is used. The text part of a ``bool`` query is everything but its ``filter``; a query of another shape is
wrapped whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hermes.documents import TOMBSTONES
from hermes.search.rules import Matched

# A pinned document's score: its text score (if it matches) plus PIN_STEP x (pins after it + 1). Text
# scores stay far below (BM25 over a few boosted fields: tens), so pins come first, in order.
PIN_STEP = 1_000_000.0


def apply(
    body: dict[str, Any], matched: Matched, variant: Callable[[str], dict[str, Any]], *, relevance: bool
) -> dict[str, Any]:
    """``body`` with ``matched`` applied; ``variant(q)`` builds the body of a variant of the query (pure)."""
    if not matched:
        return body
    query = body["query"]
    out = dict(body)
    if matched.variants:
        others = [variant(v) for v in matched.variants]
        query = _either(query, [o["query"] for o in others])
        if "highlight" in body:
            out["highlight"] = _highlight(body["highlight"], [o.get("highlight", {}) for o in others])
    if matched.pin and relevance:
        query = pinned(query, matched.pin)
    if matched.hide:
        query = hidden(query, matched.hide)
    out["query"] = query
    return out


def _highlight(highlight: dict[str, Any], others: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Highlights of the query's words or any variant's: each ``highlight_query`` (the whole request's, a
    field's) OR'd with the variants' own."""

    def either(mine: dict[str, Any], theirs: list[dict[str, Any]]) -> dict[str, Any]:
        if "highlight_query" not in mine:
            return dict(mine)
        extra = [t["highlight_query"] for t in theirs if "highlight_query" in t]
        return {**mine, "highlight_query": {"bool": {"should": [mine["highlight_query"], *extra]}}}

    out = either(highlight, list(others))
    fields = highlight.get("fields", {})
    out["fields"] = {
        name: either(spec, [o.get("fields", {}).get(name, {}) for o in others]) for name, spec in fields.items()
    }
    return out


def _parts(query: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """A query's text part and its filters (none when it is not a ``bool`` query)."""
    clauses = query.get("bool")
    if not isinstance(clauses, dict) or "filter" not in clauses:
        return query, []
    text = {k: v for k, v in clauses.items() if k != "filter"}
    return {"bool": text}, list(clauses["filter"])


def _with_filters(should: list[dict[str, Any]], filters: list[Any]) -> dict[str, Any]:
    return {"bool": {"should": should, "minimum_should_match": 1, "filter": filters, "must_not": [TOMBSTONES]}}


def _either(query: dict[str, Any], others: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Documents matching ``query`` or any of ``others`` (queries under the same filters)."""
    text, filters = _parts(query)
    return _with_filters([text, *(_parts(o)[0] for o in others)], filters)


def pinned(query: dict[str, Any], pins: Sequence[str]) -> dict[str, Any]:
    """``query`` with ``pins`` scored first, in order, under the same filters."""
    text, filters = _parts(query)
    n = len(pins)
    clauses = [
        {"constant_score": {"filter": {"ids": {"values": [pin]}}, "boost": PIN_STEP * (n - i)}}
        for i, pin in enumerate(pins)
    ]
    return _with_filters([text, *clauses], filters)


def hidden(query: dict[str, Any], hides: Sequence[str]) -> dict[str, Any]:
    """``query`` without the documents ``hides`` names."""
    never = {"ids": {"values": list(hides)}}
    clauses = query.get("bool")
    if isinstance(clauses, dict):
        return {"bool": {**clauses, "must_not": [*clauses.get("must_not", []), never]}}
    return {"bool": {"must": [query], "must_not": [never]}}
