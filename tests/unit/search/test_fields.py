"""Declared-field parameters: parsing against a schema, and the request parts built from them (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from hermes.errors import BadRequestError
from hermes.schema import EMPTY, Schema
from hermes.search import fields
from hermes.search.models import SearchParams
from hermes.search.query import count_body, search_body

SCHEMA = Schema.model_validate(
    {
        "fields": {
            "author": {"type": "text", "search": True, "boost": 2, "filter": True, "facet": True},
            "lang": {"type": "keyword", "filter": True, "facet": True},
            "sku": {"type": "keyword", "filter": True},
            "price": {"type": "number", "filter": True, "facet": True, "sort": True},
            "on": {"type": "date", "filter": True, "sort": True},
            "at": {"type": "geo_point"},
        }
    }
)


def _parse(query: list[tuple[str, str]], schema: Schema = SCHEMA) -> fields.FieldQuery:
    args = MultiDict([("q", "x"), *query])
    return fields.parse(schema, args, args.get("sort", "relevance"))


def test_parameters_become_typed_values() -> None:
    fq = _parse(
        [
            ("filter.lang", "en"),
            ("filter.lang", "fr"),
            ("filter.price", "9.5"),
            ("range.price", "..20"),
            ("range.on", "2026-01-01..2026-02-01T00:00:00+01:00"),
            ("near", "48.85,2.35"),
            ("radius", "2.5"),
            ("sort", "-price"),
            ("fields", "title,author,title"),
        ]
    )
    assert fq.filters == {"lang": ["en", "fr"], "price": [9.5]}
    assert fq.ranges == {
        "price": {"lte": 20.0},
        "on": {"gte": "2026-01-01T00:00:00.000000Z", "lte": "2026-01-31T23:00:00.000000Z"},
    }
    assert (fq.near, fq.radius_km, fq.sort, fq.fields) == ((48.85, 2.35), 2.5, "-price", ("title", "author"))


@pytest.mark.parametrize(
    ("query", "parameter", "says"),
    [
        ([("filter.nope", "x")], "filter.nope", "not a declared field"),
        ([("filter.at", "1,2")], "filter.at", "takes no filter"),
        ([("range.lang", "a..b")], "range.lang", "takes no range"),
        ([("range.price", "5")], "range.price", "<min>..<max>"),
        ([("range.price", "..")], "range.price", "<min>..<max>"),
        ([("range.on", "2026-02-01..2026-01-01")], "range.on", "above the maximum"),
        ([("filter.price", "nan")], "filter.price", "must be a number"),
        ([("filter.price", "inf")], "filter.price", "must be a number"),
        ([("filter.lang", "")], "filter.lang", "1 to 256"),
        ([("filter.lang", "x")] * 21, "filter.lang", "at most 20"),
        ([("near", "1,2"), ("near", "3,4")], "near", "only once"),
        ([("near", "1;2")], "near", "<lat>,<lon>"),
        ([("near", "1,200")], "near", "<lat>,<lon>"),
        ([("radius", "3")], "radius", "needs near"),
        ([("near", "1,2"), ("radius", "-1")], "radius", "above 0"),
        ([("near", "1,2"), ("radius", "30000")], "radius", "at most"),
        ([("sort", "lang")], "sort", "must be one of"),
        ([("sort", "distance")], "sort", "needs near"),
        ([("fields", "title,")], "fields", "''"),
        ([("fields", "deleted")], "fields", "'deleted'"),
    ],
)
def test_bad_parameters_name_themselves(query: list[tuple[str, str]], parameter: str, says: str) -> None:
    with pytest.raises(BadRequestError) as info:
        _parse(query)
    assert (info.value.parameter, info.value.status) == (parameter, 400)
    assert says in info.value.message


def test_without_a_schema_declared_parameters_are_refused() -> None:
    for query, parameter in [
        ([("filter.lang", "en")], "filter.lang"),
        ([("near", "1,2")], "near"),
        ([("sort", "price")], "sort"),
    ]:
        with pytest.raises(BadRequestError) as info:
            _parse(query, EMPTY)
        assert info.value.parameter == parameter
    assert _parse([("fields", "title,tags"), ("cache", "1")], EMPTY).fields == ("title", "tags")  # others ignored


def _body(query: list[tuple[str, str]]) -> dict[str, Any]:
    fq = _parse(query)
    return search_body(SearchParams(q="x", sort=dict(query).get("sort", "relevance")), 1000, fq=fq)


def test_facet_fields_filter_after_aggregating_the_others_before() -> None:
    body = _body([("filter.lang", "en"), ("filter.price", "5"), ("filter.sku", "a1"), ("near", "1,2")])
    own = body["query"]["bool"]["filter"]
    assert {"terms": {"sku": ["a1"]}} in own  # not a facet: narrows everything
    assert any("geo_distance" in c for c in own)
    assert body["post_filter"] == {"bool": {"filter": [{"terms": {"lang": ["en"]}}, {"terms": {"price": [5.0]}}]}}
    aggs = body["aggs"]
    assert aggs["lang"]["filter"] == {"bool": {"filter": [{"terms": {"price": [5.0]}}]}}  # not its own filter
    assert aggs["price"]["filter"] == {"bool": {"filter": [{"terms": {"lang": ["en"]}}]}}
    assert aggs["tags"]["filter"]["bool"]["filter"] == body["post_filter"]["bool"]["filter"]
    assert aggs["author"]["aggs"]["facet"] == {"terms": {"field": "author.raw", "size": fields.FACET_SIZE}}
    assert aggs["price"]["aggs"]["facet"] == {"stats": {"field": "price"}}
    count = count_body(SearchParams(q="x"), 1000, _parse([("filter.lang", "en")]))
    assert count["query"]["bool"]["filter"] == [{"bool": {"filter": [{"terms": {"lang": ["en"]}}]}}]


def test_without_declared_filters_the_body_is_todays() -> None:
    body = _body([])
    assert "post_filter" not in body
    assert body["aggs"]["tags"] == {"terms": {"field": "tags", "size": fields.FACET_SIZE}}
    assert body["query"]["bool"]["must"][0]["multi_match"]["fields"] == ["title^3", "content", "tags", "author^2"]
    plain = search_body(SearchParams(q="x"), 1000)
    assert plain["query"]["bool"]["must"][0]["multi_match"]["fields"] == ["title^3", "content", "tags"]
    assert set(plain["aggs"]) == {"tags"}


def test_sorts_tolerate_an_index_that_lacks_the_field() -> None:
    assert _body([("sort", "-price")])["sort"] == [
        {"price": {"order": "desc", "missing": "_last", "unmapped_type": "double"}},
        {"id": "asc"},
    ]
    by_distance = _body([("near", "1,2"), ("sort", "distance")])["sort"][0]["_geo_distance"]
    assert (by_distance["at"], by_distance["unit"], by_distance["ignore_unmapped"]) == (
        {"lat": 1.0, "lon": 2.0},
        "km",
        True,
    )
    assert _body([("fields", "title")])["_source"] == {"includes": ["id", "title"]}


def test_facets_read_back() -> None:
    schema = Schema.model_validate(
        {"fields": {"ok": {"type": "boolean", "facet": True}, "on": {"type": "date", "facet": True}}}
    )
    aggs = {
        "ok": {"facet": {"buckets": [{"key": 1, "key_as_string": "true", "doc_count": 3}]}},
        "on": {
            "count": 2,
            "min": 0.0,
            "max": 1.0,
            "min_as_string": "1970-01-01T00:00:00.000Z",
            "max_as_string": "1970-01-01T00:00:00.001Z",
        },
        "tags": {"buckets": [{"key": "a", "doc_count": 1}]},
    }
    assert fields.facets(schema, aggs) == {
        "ok": [{"value": True, "count": 3}],
        "tags": [{"value": "a", "count": 1}],
        "on": {"min": "1970-01-01T00:00:00.000Z", "max": "1970-01-01T00:00:00.001Z"},
    }
    empty = fields.facets(schema, {"on": {"count": 0, "min": None, "max": None}})
    assert empty == {"on": {"min": None, "max": None}}
    # Inside the refresh period after a swap, the new index may hold these fields with other types.
    other = {"ok": {"buckets": [{"key": "yes", "doc_count": 2}]}, "on": {"buckets": [{"key": "x", "doc_count": 1}]}}
    assert fields.facets(schema, other) == {"ok": [{"value": False, "count": 2}], "on": {"min": None, "max": None}}


def test_a_full_date_means_the_whole_day() -> None:
    day = {"gte": "2026-01-31T00:00:00.000000Z", "lt": "2026-02-01T00:00:00.000000Z"}
    assert _parse([("filter.on", "2026-01-31")]).filters == {"on": [day]}
    assert _parse([("range.on", "..2026-01-31")]).ranges == {"on": {"lt": day["lt"]}}
    assert _parse([("range.on", "2026-01-31..2026-01-31")]).ranges == {"on": day}
    instant = _parse([("filter.on", "2026-01-31T10:00:00Z")]).filters["on"][0]
    assert instant == {"gte": "2026-01-31T10:00:00.000000Z", "lte": "2026-01-31T10:00:00.000000Z"}
    assert _parse([("filter.on", "9999-12-31")]).filters["on"][0]["lte"].startswith("9999-12-31T23:59:59")
    clause = fields.clauses(_parse([("filter.on", "2026-01-31"), ("filter.on", "2026-03-01")]))[0][0]
    assert clause["bool"]["minimum_should_match"] == 1
    assert len(clause["bool"]["should"]) == 2
