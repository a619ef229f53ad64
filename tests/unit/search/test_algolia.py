"""Algolia's multi-query body and filter grammar, read and translated into a Hermes search (pure)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hermes.client import ElasticsearchStatusError
from hermes.errors import BadRequestError
from hermes.schema import Schema
from hermes.search import algolia_filters
from hermes.search.algolia import MAX_BODY_BYTES, MAX_REQUESTS, read_body, read_request
from hermes.search.algolia_filters import facet_filter, groups, numeric_filter, translate
from hermes.search.instantsearch import facet_names, highlighted, multi_query
from hermes.search.keys import OPEN

SCHEMA = Schema.model_validate(
    {
        "fields": {
            "authors": {"type": "text", "search": True, "filter": True, "facet": True},
            "language": {"type": "keyword", "filter": True, "facet": True},
            "pages": {"type": "number", "filter": True, "facet": True},
            "weight": {"type": "number"},
            "published": {"type": "date", "filter": True},
            "available": {"type": "boolean", "filter": True, "facet": True},
        }
    }
)
PARAMS: dict[str, Any] = {
    "query": "whale",
    "page": 2,
    "hitsPerPage": 5,
    "facets": ["language", "pages"],
    "facetFilters": [["language:en", "language:fr"], "available:true"],
    "numericFilters": ["pages>=100"],
    "highlightPreTag": "__ais-highlight__",
    "highlightPostTag": "__/ais-highlight__",
}


def _body(*requests: dict[str, Any]) -> bytes:
    return json.dumps({"requests": [{"indexName": "books", **r} for r in requests]}).encode()


def _v4(params: dict[str, Any]) -> str:
    """How algoliasearch v4 encodes parameters: urlencoded, arrays as JSON."""
    return urlencode({k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()})


def _bad(call: Any, *args: Any) -> str:
    with pytest.raises(BadRequestError) as caught:
        call(*args)
    assert caught.value.parameter is not None
    assert caught.value.parameter in caught.value.message
    return caught.value.parameter


def test_the_three_forms_the_clients_send_read_alike() -> None:
    flat, text, obj = read_body(_body(PARAMS, {"params": _v4(PARAMS)}, {"params": PARAMS}))
    assert flat.params == text.params == obj.params
    p = flat.params
    assert (p.query, p.page, p.hits_per_page, p.facets) == ("whale", 2, 5, ["language", "pages"])
    assert p.facet_filters == [["language:en", "language:fr"], "available:true"]
    assert (p.highlight_pre_tag, p.highlight_post_tag) == ("__ais-highlight__", "__/ais-highlight__")
    assert text.echo == _v4(PARAMS)
    assert flat.index == "books"


def test_defaults_are_algolias() -> None:
    p = read_request({"indexName": "books"}).params
    assert (p.query, p.page, p.hits_per_page, p.facets, p.highlight_pre_tag) == ("", 0, 20, [], "<em>")
    assert p.analytics is True
    assert read_request({"indexName": "b", "params": "analytics=false&facets=a,b"}).params.facets == ["a", "b"]
    assert read_request({"indexName": "b", "params": "analytics=false"}).params.analytics is False


def test_algolia_parameters_hermes_has_no_use_for_are_ignored() -> None:
    p = read_request({"indexName": "b", "clickAnalytics": False, "maxValuesPerFacet": 10, "tagFilters": ""})
    assert p.params.query == ""


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        (b"x" * (MAX_BODY_BYTES + 1), "requests"),
        (b"not json", "requests"),
        (b'{"requests": []}', "requests"),
        (json.dumps({"requests": [{"indexName": "b"}] * (MAX_REQUESTS + 1)}).encode(), "requests"),
        (b'{"requests": [{"query": "x"}]}', "indexName"),
        (_body({"params": 3}), "params"),
        (_body({"hitsPerPage": 101}), "hitsPerPage"),
        (_body({"params": "hitsPerPage=-1"}), "hitsPerPage"),
        (_body({"page": "first"}), "page"),
        (_body({"facets": "[broken"}), "facets"),
        (_body({"facetFilters": [[["a:b"]]]}), "facetFilters"),
        (_body({"filters": "language:en"}), "filters"),
        (_body({"aroundLatLng": "1,2"}), "aroundLatLng"),
        (_body({"type": "facet"}), "type"),
    ],
)
def test_a_body_hermes_cannot_read_names_the_parameter(body: bytes, parameter: str) -> None:
    assert _bad(read_body, body) == parameter


def test_the_request_at_fault_is_named_after_the_first() -> None:
    with pytest.raises(BadRequestError, match=r"\(request 1\)"):
        read_body(_body({}, {"hitsPerPage": 500}))


# --- facetFilters and numericFilters -------------------------------------------------------------

_name = st.sampled_from(["language", "authors", "tags", "available"])
_value = st.text(st.characters(codec="utf-8", exclude_characters=",()\\", exclude_categories=("Cs", "Cc")), min_size=1)
_filter = st.builds(lambda f, v, neg: f"{f}:{'-' if neg else ''}{v.strip() or 'x'}", _name, _value, st.booleans())
_groups = st.lists(st.lists(_filter, min_size=1, max_size=4), min_size=1, max_size=5)


@given(_groups)
def test_the_array_form_and_the_text_form_read_to_the_same_groups(expected: list[list[str]]) -> None:
    as_array = [g[0] if len(g) == 1 else g for g in expected]
    as_text = ",".join(g[0] if len(g) == 1 else "(" + ",".join(g) + ")" for g in expected)
    assert groups(as_array) == expected
    assert groups(as_text) == expected


def test_a_facet_filter_may_negate_or_escape_a_leading_dash() -> None:
    assert facet_filter("language:en") == algolia_filters.FacetFilter("language", "en")
    assert facet_filter("language:-en") == algolia_filters.FacetFilter("language", "en", negated=True)
    assert facet_filter("tags:\\-x") == algolia_filters.FacetFilter("tags", "-x")
    assert facet_filter("authors:Dumas: a life") == algolia_filters.FacetFilter("authors", "Dumas: a life")
    assert _bad(facet_filter, "language") == "facetFilters"


_ops = {"<": ("lt",), "<=": ("lte",), ">": ("gt",), ">=": ("gte",), "=": ("gte", "lte"), "!=": ("gte", "lte")}


@given(
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
    st.sampled_from(sorted(_ops)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", " "]),
)
def test_every_numeric_operator_reads_as_range_bounds(name: str, op: str, number: float, space: str) -> None:
    parsed = numeric_filter(f"{name}{space}{op}{space}{number!r}")
    assert parsed.field == name
    assert parsed.bounds == tuple((bound, number) for bound in _ops[op])
    assert parsed.negated == (op == "!=")


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False))
def test_a_between_filter_is_inclusive(low: float, high: float) -> None:
    assert numeric_filter(f"pages:{low!r} TO {high!r}").bounds == (("gte", low), ("lte", high))


@pytest.mark.parametrize("text", ["pages", "pages>>3", "pages>x", "pages>inf", "pages>nan", "Pages>3", "pages:1 TO"])
def test_a_numeric_filter_out_of_the_grammar_is_a_400(text: str) -> None:
    assert _bad(numeric_filter, text) == "numericFilters"


def test_one_field_groups_become_hermes_filters_and_disjunctive_facets() -> None:
    out = translate(SCHEMA, [["language:en", "language:fr"], "available:true", "tags:sea", "tags:novel"], [])
    assert out.filters == {"language": ["en", "fr"], "available": [True]}
    assert out.tags == ["sea", "novel"]  # every tag must match, as /search's tag
    assert out.clauses == []


def test_what_filter_dot_name_cannot_say_becomes_a_clause_beside_it() -> None:
    out = translate(SCHEMA, ["language:-en", ["language:ru", "authors:Leo Tolstoy"], "available:true"], [])
    assert out.filters == {"available": [True]}
    not_english, either = out.clauses
    assert not_english == {"bool": {"must_not": [{"terms": {"language": ["en"]}}]}}
    assert either == {
        "bool": {
            "should": [{"terms": {"language": ["ru"]}}, {"terms": {"authors.raw": ["Leo Tolstoy"]}}],
            "minimum_should_match": 1,
        }
    }
    second = translate(SCHEMA, ["language:en", "language:fr", ["tags:a", "tags:b"]], [])
    assert second.filters == {"language": ["en"]}
    assert second.clauses[0] == {"terms": {"language": ["fr"]}}  # a second AND on one field
    assert second.clauses[1] == {
        "bool": {"should": [{"terms": {"tags": ["a"]}}, {"terms": {"tags": ["b"]}}], "minimum_should_match": 1}
    }


def test_numeric_filters_become_ranges_or_clauses() -> None:
    out = translate(SCHEMA, [], ["pages>=100", "pages<500", "pages!=300", ["pages<10", "pages>1000"], "pages>=200"])
    assert out.ranges == {"pages": {"gte": 100.0, "lt": 500.0}}
    assert out.clauses == [
        {"bool": {"must_not": [{"range": {"pages": {"gte": 300.0, "lte": 300.0}}}]}},
        {
            "bool": {
                "should": [{"range": {"pages": {"lt": 10.0}}}, {"range": {"pages": {"gt": 1000.0}}}],
                "minimum_should_match": 1,
            }
        },
        {"range": {"pages": {"gte": 200.0}}},
    ]


@pytest.mark.parametrize(
    ("facet_filters", "numeric_filters", "parameter"),
    [
        (["shelf:a"], [], "facetFilters"),
        (["weight:3"], [], "facetFilters"),  # declared, but no filter flag
        (["available:maybe"], [], "facetFilters"),
        (["pages:many"], [], "facetFilters"),
        ([], ["language>3"], "numericFilters"),
        ([], ["published>3"], "numericFilters"),  # a date: range.published, not numericFilters
        ([], ["weight>3"], "numericFilters"),
        ([], ["shelf>3"], "numericFilters"),
    ],
)
def test_filters_on_fields_hermes_does_not_filter_are_a_400(
    facet_filters: list[str], numeric_filters: list[str], parameter: str
) -> None:
    assert _bad(translate, SCHEMA, facet_filters, numeric_filters) == parameter


def test_facets_are_tags_and_declared_facet_fields() -> None:
    assert facet_names(SCHEMA, ["*"]) == ("tags", "authors", "language", "pages", "available")
    assert facet_names(SCHEMA, ["language", "tags", "language"]) == ("language", "tags")
    assert _bad(facet_names, SCHEMA, ["published"]) == "facets"


def test_highlighted_attributes_are_the_searched_text_fields() -> None:
    assert highlighted(SCHEMA, None) == ("title", "content", "authors")
    assert highlighted(SCHEMA, ["*"]) == ("title", "content", "authors")
    assert highlighted(SCHEMA, ["title", "language"]) == ("title",)


def test_a_refused_search_after_a_schema_change_runs_again_with_the_new_schema() -> None:
    schemas = [Schema(), SCHEMA]  # the cached schema, then the one read again
    seen: list[Schema] = []

    def search(params: Any, fq: Any) -> Any:
        seen.append(fq.schema)
        if len(seen) == 1:
            raise ElasticsearchStatusError(400, {"error": {"type": "search_phase_execution_exception"}})
        return {
            "query": "",
            "total": 0,
            "total_relation": "eq",
            "took_ms": 1,
            "from": 0,
            "size": 20,
            "hits": [],
            "facets": {},
        }

    requests = read_body(_body({"query": "x"}))
    done = multi_query(
        requests, OPEN, "books", served=lambda: schemas[min(len(seen), 1)], forget=lambda: None, search=search
    )
    assert seen == [Schema(), SCHEMA]
    assert done[0][2]["nbHits"] == 0
    with pytest.raises(ElasticsearchStatusError):  # the same schema: the refusal stands
        multi_query(requests, OPEN, "books", served=Schema, forget=lambda: None, search=_refuse)


def _refuse(params: Any, fq: Any) -> Any:
    raise ElasticsearchStatusError(400, {})
