"""``explain=true``: Elasticsearch's explanation trimmed to what matched where, and a short outline."""

from __future__ import annotations

from typing import Any

import pytest

from hermes.search.explain import MAX_CHILDREN, MAX_DEPTH, MAX_MATCHES, readable
from hermes.search.models import SearchParams
from hermes.search.openapi import openapi_document


def _node(value: float, description: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"value": value, "description": description, "details": list(details)}


def _weight(field: str, text: str, value: float) -> dict[str, Any]:
    bm25 = _node(value, "score(freq=1.0), computed as boost * idf * tf from:", _node(2.2, "boost"))
    return _node(value, f"weight({field}:{text} in 7) [PerFieldSimilarity], result of:", bm25)


# The shape Elasticsearch 8 returns for a decayed, filtered search of `whale hunt`.
DECAYED = _node(
    3.0,
    "function score, product of:",
    _node(
        6.0,
        "sum of:",
        _node(6.0, "max of:", _node(6.0, "sum of:", _weight("content", "whale", 4.0), _weight("content", "hunt", 2.0))),
        _node(0.0, "match on required clause, product of:", _node(0.0, "# clause")),
    ),
    _node(0.5, "min of:", _node(0.5, "Function for field updated_at:"), _node(3.4e38, "maxBoost")),
)


def test_matches_are_the_words_that_scored_largest_first() -> None:
    why = readable(DECAYED)
    assert why["score"] == 3.0
    assert why["matches"] == [
        {"field": "content", "text": "whale", "score": 4.0},
        {"field": "content", "text": "hunt", "score": 2.0},
    ]


def test_the_outline_collapses_chains_and_stops_at_matches() -> None:
    outline = readable(DECAYED)["details"]
    assert outline["description"] == "function score, product of:"
    query, decay = outline["details"]  # the filter's zero is left out; largest first
    assert query == {
        "value": 6.0,
        "description": "sum of:",
        "details": [{"value": 4.0, "description": "content:whale"}, {"value": 2.0, "description": "content:hunt"}],
    }
    assert decay["description"] == "min of:"


def test_the_outline_is_bounded_in_depth_breadth_and_matches() -> None:
    deep: dict[str, Any] = _weight("title", "x", 1.0)
    for level in range(20):
        deep = _node(1.0 + level, f"sum of level {level}:", deep, _node(0.5, "other"))
    wide = _node(50.0, "sum of:", *(_weight("content", f"w{i}", 1.0 + i) for i in range(30)))
    outline = readable(deep)["details"]
    depth = 0
    while "details" in outline:
        outline, depth = outline["details"][0], depth + 1
    assert depth == MAX_DEPTH - 1
    assert len(readable(wide)["details"]["details"]) == MAX_CHILDREN
    assert len(readable(wide)["matches"]) == MAX_MATCHES
    assert readable(wide)["matches"][0]["text"] == "w29"


def test_a_constant_score_keyword_match_is_named() -> None:
    keyword = _node(5.0, "sum of:", _node(5.0, "CaseInsensitiveTermQuery{isbn:9798000000014}^5.0"))
    assert readable(keyword)["matches"] == [{"field": "isbn", "text": "9798000000014", "score": 5.0}]


def test_odd_explanations_do_not_break_it() -> None:
    assert readable({})["score"] == 0.0
    odd = readable({"value": "x", "description": "d" * 500, "details": ["not a node", {"value": None}]})
    assert len(odd["details"]["description"]) == 160


def test_explain_needs_a_small_page() -> None:
    assert SearchParams.model_validate({"q": "x", "explain": "true"}).explain
    with pytest.raises(ValueError, match="explain=true takes size of at most 10"):
        SearchParams.model_validate({"q": "x", "size": 11, "explain": "true"})


def test_openapi_describes_explain_and_the_explanation() -> None:
    doc = openapi_document()
    params = {p["name"]: p for p in doc["paths"]["/search"]["get"]["parameters"]}
    assert params["explain"]["schema"]["type"] == "boolean"
    assert "size` at most 10" in params["explain"]["description"]
    assert '"two words"' in params["q"]["description"]
    schemas = doc["components"]["schemas"]
    assert "explanation" in schemas["Hit"]["properties"]
    assert set(schemas["Explanation"]["required"]) == {"score", "matches", "details"}
