"""Pure query builders: typed parameters in, Elasticsearch request bodies out.

User input only fills values of a fixed query shape; it never becomes field
names, query DSL or scripts.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from hermes.documents import TOMBSTONES
from hermes.search import curation, fields
from hermes.search.fields import FACET_SIZE, NO_FIELDS, FieldQuery
from hermes.search.rules import NOTHING, Matched
from hermes.timestamps import format_rfc3339

if TYPE_CHECKING:
    from hermes.schema import Schema
    from hermes.search.models import SearchParams, SuggestParams

# Typo tolerance for queries of up to this many words. Each fuzzy term expands to up to 50 terms per
# field. A longer query is pasted text, matched word for word.
FUZZY_MAX_TERMS = 6
_WORD = re.compile(r"\w+")


def words(q: str) -> int:
    """How many terms the standard analyzer makes of ``q``: ``a-b-c`` is three, as typo tolerance sees it."""
    return len(_WORD.findall(q))


# Highlighting is not covered by the search `timeout`, and the plain highlighter re-runs every fuzzy
# expansion on every hit and field: six misspelled words with size=100 cost Elasticsearch 15-18 s on a
# 30k-record corpus, and eight such callers made every other search a 504. So highlights use the words
# as typed (a `highlight_query` without fuzziness), except in titles and content when hits x words stay
# within this budget: there a typo is still highlighted, at a bounded cost.
FUZZY_HIGHLIGHT_BUDGET = 20
_HIGHLIGHT_FIELDS: dict[str, Any] = {
    "title": {"number_of_fragments": 0},
    "content": {"fragment_size": 150, "number_of_fragments": 3},
}
HIGHLIGHT: dict[str, Any] = {
    # The plain highlighter: the unified one costs ~5x more per query with fuzzy terms (measured on
    # ES 8.19, bench corpus: 87 ms vs 17 ms). max_analyzed_offset bounds its cost on huge texts.
    "type": "plain",
    "max_analyzed_offset": 100_000,
    "pre_tags": ["<mark>"],
    "post_tags": ["</mark>"],
    "encoder": "html",  # stored text is escaped: highlights are safe to render
    "fields": _HIGHLIGHT_FIELDS,
}
_SORTS: dict[str, list[Any]] = {
    "relevance": [{"_score": "desc"}, {"updated_at": "desc"}, {"id": "asc"}],
    "updated_at": [{"updated_at": "asc"}, {"id": "asc"}],
    "-updated_at": [{"updated_at": "desc"}, {"id": "asc"}],
}


def search_body(
    params: SearchParams,
    timeout_ms: int,
    recency: str | None = None,
    fq: FieldQuery = NO_FIELDS,
    *,
    fuzzy: bool = True,
    rules: Matched = NOTHING,
) -> dict[str, Any]:
    """The ``_search`` body for ``GET /search``; ``recency`` is a half-life (``HERMES_RECENCY``), ``fq``
    the search's declared-field parameters with the served index's schema; ``fuzzy=False`` matches
    the words as typed (the cheap form, see :mod:`hermes.search.gate`); ``rules``, the relevance rules
    matching ``q`` (:mod:`hermes.search.curation`)."""
    schema = fq.schema
    match_all = params.q.strip() == "*"
    text = {"match_all": {}} if match_all else _text_query(params.q, schema, fuzzy=fuzzy)
    if recency and not match_all and params.sort == "relevance":
        text = _decayed(text, recency)
    query_filters, faceted = fields.clauses(fq)
    body: dict[str, Any] = {
        "query": {
            "bool": {
                "must": [text],
                "filter": _filters(params) + query_filters + list(fq.scope),
                "must_not": [TOMBSTONES],
            }
        },
        "from": params.from_,
        "size": params.size,
        "sort": fields.sort_clause(fq) if fq.sort else _SORTS[params.sort],
        "track_scores": True,
        "aggs": fields.aggregations(schema, faceted, {"terms": {"field": "tags", "size": FACET_SIZE}}),
        "timeout": f"{timeout_ms}ms",
    }
    if faceted:
        body["post_filter"] = {"bool": {"filter": [c for cs in faceted.values() for c in cs]}}
    if fq.fields is not None:
        body["_source"] = {"includes": ["id", *fq.fields]}
    if not match_all:
        body["highlight"] = _highlight(params, schema, fuzzy=fuzzy)
    if rules:
        relevance = params.sort == "relevance" and not fq.sort

        def variant(q: str) -> dict[str, Any]:
            return search_body(params.model_copy(update={"q": q}), timeout_ms, recency, fq, fuzzy=fuzzy)

        body = curation.apply(body, rules, variant, relevance=relevance)
    return body


def _highlight(params: SearchParams, schema: Schema, *, fuzzy: bool) -> dict[str, Any]:
    """What to highlight, at a cost bounded whatever the query (see FUZZY_HIGHLIGHT_BUDGET)."""
    searched = [name for name, spec in schema.fields.items() if spec.search]
    extra = {name: {"fragment_size": 150, "number_of_fragments": 3} for name in searched}
    fields_ = {**_HIGHLIGHT_FIELDS, **extra}
    n = words(params.q)
    if fuzzy and n <= FUZZY_MAX_TERMS and n * params.size <= FUZZY_HIGHLIGHT_BUDGET:
        for name in _HIGHLIGHT_FIELDS:  # the core text fields: a typo is highlighted where it matched
            typo = _text_query(params.q, schema)["multi_match"] | {"fields": [name]}
            fields_[name] = {**fields_[name], "highlight_query": {"multi_match": typo}}
    as_typed = {"multi_match": {"query": params.q, "fields": search_fields(schema), "type": "best_fields"}}
    return {**HIGHLIGHT, "highlight_query": as_typed, "fields": fields_}


def _decayed(query: dict[str, Any], half_life: str) -> dict[str, Any]:
    """``query``'s score times 0.5 ** (age of updated_at / half_life)."""
    decay = {"exp": {"updated_at": {"origin": "now", "scale": half_life, "decay": 0.5}}}
    return {"function_score": {"query": query, "functions": [decay], "boost_mode": "multiply"}}


def search_fields(schema: Schema) -> list[str]:
    """The fields text matches, with their boosts: the core ones, then the declared ``search`` fields."""
    core = schema.core
    boosts = {"title": core.title.boost or 3, "content": core.content.boost, "tags": core.tags.boost}
    declared = {name: spec.boost for name, spec in schema.fields.items() if spec.search}
    return [f"{name}^{boost:g}" if boost else name for name, boost in {**boosts, **declared}.items()]


def _text_query(q: str, schema: Schema, *, fuzzy: bool = True) -> dict[str, Any]:
    match: dict[str, Any] = {"query": q, "fields": search_fields(schema), "type": "best_fields"}
    if fuzzy and words(q) <= FUZZY_MAX_TERMS:
        match |= {"fuzziness": "AUTO", "max_expansions": 50}
    return {"multi_match": match}


def _filters(params: SearchParams) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"term": {"tags": tag}} for tag in params.tag]
    bounds: dict[str, str] = {}
    if params.updated_after is not None:
        bounds["gte"] = format_rfc3339(params.updated_after)
    if params.updated_before is not None:
        bounds["lte"] = format_rfc3339(params.updated_before)
    if bounds:
        filters.append({"range": {"updated_at": bounds}})
    return filters


def suggest_body(params: SuggestParams, timeout_ms: int, scope: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """The ``_search`` body for ``GET /suggest``: the last word typed is a prefix; ``scope``, a key's filter."""
    return {
        "query": {
            "bool": {
                "must": [{"match_bool_prefix": {"title.prefix": {"query": params.q}}}],
                "filter": list(scope),
                "must_not": [TOMBSTONES],
            }
        },
        "size": params.size,
        "_source": ["id", "title"],
        "timeout": f"{timeout_ms}ms",
    }


# "Did you mean": Elasticsearch's term suggester (core) on the searched text fields. It reaches what the
# query's own typo tolerance does not: two edits in words of 3-5 letters, and every word of a query too
# long to be fuzzy.
_CORRECTED_FIELDS = ("title", "content")
_TERM_SUGGEST = {"suggest_mode": "popular", "max_edits": 2, "prefix_length": 0, "min_word_length": 3, "size": 1}


def correction_body(q: str, timeout_ms: int) -> dict[str, Any]:
    """The ``_search`` body asking the term suggester for corrections of ``q`` (no hits fetched)."""
    return {
        "size": 0,
        "suggest": {"text": q, **{f: {"term": {"field": f, **_TERM_SUGGEST}} for f in _CORRECTED_FIELDS}},
        "timeout": f"{timeout_ms}ms",
    }


def corrected(q: str, suggest: dict[str, Any]) -> str | None:
    """``q`` with each word the suggester corrected replaced by its best option (pure); None if none was."""
    best: dict[tuple[int, int], tuple[float, int, str]] = {}
    for entries in suggest.values():
        for entry in entries:
            for option in entry.get("options", [])[:1]:
                span = (entry["offset"], entry["length"])
                candidate = (option["score"], option["freq"], option["text"])
                best[span] = max(best.get(span, candidate), candidate)
    if not best:
        return None
    out, end = [], 0
    for (offset, length), (_, _, text) in sorted(best.items()):
        out += [q[end:offset], text]
        end = offset + length
    return "".join(out) + q[end:]


def count_body(
    params: SearchParams, timeout_ms: int, fq: FieldQuery = NO_FIELDS, rules: Matched = NOTHING
) -> dict[str, Any]:
    """Whether ``params`` would find anything: the search's query and filters, no hits, no aggregations.

    Under a search key's filter (``fq.scope``) every word must be found as it is, in one field: the
    suggester reads the whole index, and a fuzzy count would let another tenant's word through when it
    is a typo away from one of this tenant's.
    """
    scoped = bool(fq.scope)

    def build(p: SearchParams) -> dict[str, Any]:
        body = search_body(p, timeout_ms, fq=fq, fuzzy=not scoped)
        if scoped and "multi_match" in body["query"]["bool"]["must"][0]:
            body["query"]["bool"]["must"][0]["multi_match"]["operator"] = "and"
        return body

    body = build(params)
    if rules:  # hides and synonyms count; pins do not make a correction worth offering
        body = curation.apply(body, rules, lambda q: build(params.model_copy(update={"q": q})), relevance=False)
    query = body["query"]
    if "post_filter" in body:
        query = {"bool": {"must": [query], "filter": [body["post_filter"]]}}
    return {"query": query, "size": 0, "track_total_hits": 1, "timeout": body["timeout"]}
