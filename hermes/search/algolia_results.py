"""Hermes's search answer in the shape of an Algolia result, as InstantSearch's helper reads it (pure).

The shape is the one ``algoliasearch-helper`` (npm ``algoliasearch-helper@3.29.4``, ``src/SearchResults/index.js``)
and InstantSearch's widgets read: ``hits[].objectID`` and ``_highlightResult``, ``nbHits``, ``nbPages``, ``page``,
``hitsPerPage``, ``facets`` (``{field: {value: count}}``; the helper reads a facet's ``facets_stats`` only when the
facet is also in ``facets``), ``facets_stats`` (``{min, max}``: the range widgets' bounds).

Highlights: Elasticsearch marks the words it matched (in fragments, HTML-escaped); those words are marked again in
the whole stored value with the request's tags. Like Algolia's, the value is the stored text, not escaped:
InstantSearch escapes it (``escapeHTML``, on by default) before it turns its own tags into ``<mark>``.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from typing import Any, Literal

from typing_extensions import TypedDict

from hermes.search.models import SearchResponse

MAX_WINDOW = 1000  # as /search: from + size
_MARKED = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)
_WORD = re.compile(r"\w+")
_EXCLUDED = re.compile(r'(?:^|\s)-(?:"[^"]*"?|\S+)')


class HighlightResult(TypedDict):
    """Algolia's highlight of one value: the stored text with the matched words between the request's tags."""

    value: str
    matchLevel: Literal["none", "partial", "full"]
    matchedWords: list[str]


class Exhaustive(TypedDict):
    """Whether the counts are exact."""

    nbHits: bool
    facetsCount: bool


AlgoliaResult = TypedDict(  # noqa: UP013 - functional: Algolia's camelCase keys
    "AlgoliaResult",
    {
        # Each hit: its stored fields, objectID and _highlightResult ({attribute: HighlightResult or a list of them}).
        "hits": list[dict[str, Any]],
        "nbHits": int,
        "page": int,
        "nbPages": int,
        "hitsPerPage": int,
        "facets": dict[str, dict[str, int]],
        "facets_stats": dict[str, dict[str, float]],
        "exhaustiveFacetsCount": bool,
        "exhaustiveNbHits": bool,
        "exhaustive": Exhaustive,
        "query": str,
        "params": str,
        "index": str,
        "processingTimeMS": int,
    },
)


class MultiQueryResponse(TypedDict):
    """``POST /1/indexes/*/queries``: one result per request, in their order."""

    results: list[AlgoliaResult]


def result(
    found: SearchResponse,
    *,
    page: int,
    hits_per_page: int,
    query: str,
    echo: str,
    index: str,
    facets: Iterable[str],
    highlight: tuple[str, ...],
    tags: tuple[str, str],
) -> AlgoliaResult:
    """One entry of ``results``."""
    total = found["total"]
    counts, stats = facet_counts(found["facets"], facets)
    words = query_words(query)
    pages = min(math.ceil(total / hits_per_page), MAX_WINDOW // hits_per_page) if hits_per_page else 0
    complete = not found.get("timed_out")  # Elasticsearch stopped at the search's timeout: counts are partial
    exhaustive = found["total_relation"] == "eq" and complete
    hits = [hit(h["id"], h["document"], h["highlight"], words, attributes=highlight, tags=tags) for h in found["hits"]]
    return {
        "hits": hits,
        "nbHits": total,
        "page": page,
        "nbPages": pages,
        "hitsPerPage": hits_per_page,
        "facets": counts,
        "facets_stats": stats,
        "exhaustiveFacetsCount": complete,
        "exhaustiveNbHits": exhaustive,
        "exhaustive": {"nbHits": exhaustive, "facetsCount": complete},
        "query": query,
        "params": echo,
        "index": index,
        "processingTimeMS": found["took_ms"],
    }


def facet_counts(
    facets: dict[str, Any], wanted: Iterable[str]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """``facets`` (value → count) and ``facets_stats`` (number fields' ``{min, max}``) for the wanted fields."""
    counts: dict[str, dict[str, int]] = {}
    stats: dict[str, dict[str, float]] = {}
    for name in wanted:
        facet = facets.get(name)
        if isinstance(facet, list):
            counts[name] = {_text(b["value"]): b["count"] for b in facet}
        elif isinstance(facet, dict):
            counts[name] = {}  # a range facet has no value counts here; the helper needs the key for the stats
            low, high = facet.get("min"), facet.get("max")
            if isinstance(low, int | float) and isinstance(high, int | float):
                stats[name] = {"min": low, "max": high}
    return counts, stats


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def hit(
    doc_id: str,
    document: dict[str, Any],
    marked: dict[str, list[str]],
    words: list[str],
    *,
    attributes: tuple[str, ...],
    tags: tuple[str, str],
) -> dict[str, Any]:
    """One hit: the stored fields, ``objectID`` and ``_highlightResult`` for the highlighted attributes."""
    highlights: dict[str, Any] = {}
    for name in attributes:
        value = document.get(name)
        tokens = matched_tokens(marked.get(name, []))
        if isinstance(value, str):
            highlights[name] = highlight(value, tokens, words, tags)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            highlights[name] = [highlight(v, tokens, words, tags) for v in value]
    return {**document, "objectID": doc_id, "_highlightResult": highlights}


def matched_tokens(fragments: list[str]) -> set[str]:
    """The words Elasticsearch marked in a field's fragments, unescaped, lowercased."""
    return {html.unescape(m).lower() for fragment in fragments for m in _MARKED.findall(fragment) if m.strip()}


def query_words(query: str) -> list[str]:
    """The words of a query that should be found (not those excluded with ``-``), lowercased, once each."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(_EXCLUDED.sub(" ", query))))


def highlight(value: str, tokens: set[str], words: list[str], tags: tuple[str, str]) -> HighlightResult:
    """Algolia's ``{value, matchLevel, matchedWords}`` for one stored value."""
    pre, post = tags
    present = [t for t in sorted(tokens, key=len, reverse=True) if t]
    if present:
        pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(t) for t in present) + r")(?!\w)", re.IGNORECASE)
        found = {m.lower() for m in pattern.findall(value)}
        value = pattern.sub(lambda m: f"{pre}{m.group(0)}{post}", value)
    else:
        found = set()
    matched = [w for w in words if any(_close(w, t) for t in found)]
    level: Literal["none", "partial", "full"] = (
        "none" if not matched else "full" if len(matched) == len(words) else "partial"
    )
    return {"value": value, "matchLevel": level, "matchedWords": matched}


def _close(word: str, token: str) -> bool:
    """Whether a marked token is the query word, within the typos Elasticsearch's ``AUTO`` fuzziness allows."""
    if word == token or (min(len(word), len(token)) >= 3 and (token.startswith(word) or word.startswith(token))):
        return True  # a stem: whale, whales
    allowed = 0 if len(word) <= 2 else 1 if len(word) <= 5 else 2
    return allowed > 0 and _distance(word, token, allowed) <= allowed


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, stopping once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]
