"""The search service: runs built queries and maps Elasticsearch answers to API bodies."""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from hermes.documents import is_live, public
from hermes.errors import NotFoundError
from hermes.search import curation, fields
from hermes.search.explain import readable
from hermes.search.fields import NO_FIELDS, FieldQuery
from hermes.search.gate import COSTLY_WORDS, CostGate
from hermes.search.keys import OPEN, SearchKey
from hermes.search.popular import NONE, Popular
from hermes.search.query import (
    FUZZY_MAX_TERMS,
    corrected,
    correction_body,
    count_body,
    search_body,
    suggest_body,
)
from hermes.search.reader import Reader
from hermes.search.rules import EMPTY_RULES, RuleSet
from hermes.search.syntax import free_words_only, parse
from hermes.search.text import fuzzy_terms

if TYPE_CHECKING:
    from hermes.search.models import Hit, SearchParams, SearchResponse, SuggestParams, SuggestResponse


def search(
    reader: Reader,
    index: str,
    params: SearchParams,
    timeout_ms: int,
    *,
    recency: str | None = None,
    fq: FieldQuery = NO_FIELDS,
    gate: CostGate | None = None,
    rules: RuleSet = EMPTY_RULES,
    correct: bool = True,
) -> SearchResponse:
    """Run ``GET /search``; on zero hits, offer a corrected query that has hits (unless ``correct`` is False).

    With a ``gate``, a costly search (typo tolerance over many words, a correction) runs only in one
    of its slots; without a free slot the words are matched as typed and no correction is offered.
    ``rules``: the relevance rules (synonyms, pins, hides) of the served alias.
    """
    matched = rules.match(params.q)
    costly = COSTLY_WORDS <= fuzzy_terms(parse(params.q)) <= FUZZY_MAX_TERMS  # phrases, exclusions: never fuzzy
    with _slot(gate, costly) as fuzzy:
        body = reader.search(index, search_body(params, timeout_ms, recency, fq, fuzzy=fuzzy, rules=matched))
    response = to_search_response(params, body, fq)
    if correct and response["total"] == 0 and free_words_only(params.q, numbers=False).strip() not in ("", "*"):
        with _slot(gate, costly=True) as admitted:
            correction = did_you_mean(reader, index, params, timeout_ms, fq, rules=rules) if admitted else None
        if correction is not None:
            response["did_you_mean"] = correction
    return response


def _slot(gate: CostGate | None, costly: bool) -> AbstractContextManager[bool]:
    return gate.costly() if gate is not None and costly else nullcontext(True)


def did_you_mean(
    reader: Reader,
    index: str,
    params: SearchParams,
    timeout_ms: int,
    fq: FieldQuery = NO_FIELDS,
    *,
    rules: RuleSet = EMPTY_RULES,
) -> str | None:
    """A correction of ``params.q`` from Elasticsearch's term suggester, if it finds something with the
    same filters (and the correction's own hides); two more requests, made only for searches that found
    nothing."""
    suggest = reader.search(index, correction_body(params.q, timeout_ms)).get("suggest", {})
    correction = corrected(params.q, suggest)
    if correction is None or correction.lower() == params.q.lower():
        return None
    fixed = params.model_copy(update={"q": correction})
    found = reader.search(index, count_body(fixed, timeout_ms, fq, rules.match(correction)))
    return correction if found["hits"]["total"]["value"] > 0 else None


def to_search_response(params: SearchParams, body: dict[str, Any], fq: FieldQuery = NO_FIELDS) -> SearchResponse:
    """Map a ``_search`` answer to the contract's body (pure)."""
    total = body["hits"]["total"]
    distance = fq.sort == "distance"
    response: SearchResponse = {
        "query": params.q,
        "total": total["value"],
        "total_relation": total["relation"],
        "took_ms": body["took"],
        "from": params.from_,
        "size": params.size,
        "hits": [_hit(h, distance) for h in body["hits"]["hits"]],
        "facets": fields.facets(fq.schema, body.get("aggregations", {})),
    }
    if body.get("timed_out"):  # Elasticsearch hit the search's `timeout`: the hits found by then, not all of them
        response["timed_out"] = True
    return response


def _hit(hit: dict[str, Any], distance: bool) -> Hit:
    out: Hit = {
        "id": hit["_id"],
        "score": hit.get("_score"),
        "document": public(hit["_source"]),
        "highlight": hit.get("highlight", {}),
    }
    if "_explanation" in hit:
        out["explanation"] = readable(hit["_explanation"])
    km = hit.get("sort", [None])[0] if distance else None
    if isinstance(km, float | int) and math.isfinite(km):
        out["distance_km"] = round(float(km), 3)
    return out


def suggest(
    reader: Reader,
    index: str,
    params: SuggestParams,
    timeout_ms: int,
    scope: tuple[dict[str, Any], ...] = (),
    *,
    rules: RuleSet = EMPTY_RULES,
    popular: Popular = NONE,
) -> SuggestResponse:
    """Run ``GET /suggest``; ``scope`` is a search key's filter. Titles: the documents a curation hides for
    exactly this ``q`` are left out. Queries: the popular past queries ``q`` starts (see
    :mod:`hermes.search.popular`; the caller passes none under a key's filter)."""
    body = suggest_body(params, timeout_ms, scope)
    hide = rules.match(params.q).hide
    if hide:
        body["query"] = curation.hidden(body["query"], hide)
    hits = reader.search(index, body)["hits"]["hits"]
    return {
        "suggestions": [{"id": h["_id"], "title": str(h["_source"].get("title", ""))} for h in hits],
        "queries": [{"query": q} for q in popular.complete(params.q, params.size)],
    }


def get_document(reader: Reader, index: str, doc_id: str, key: SearchKey = OPEN) -> dict[str, Any]:
    """Run ``GET /documents/<id>``; tombstones are not served, nor documents outside the key's filter."""
    found = reader.get(index, doc_id)
    source = found.get("_source", {}) if found else {}
    if not found or not is_live(source) or not fields.in_scope(key.filter, source):
        msg = f"no document with id {doc_id!r}"
        raise NotFoundError(msg)
    return public(source)
