"""HERMES_SCHEMA: the model, its start-up errors, the mappings and record checks derived from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hermes.errors import ConfigurationError
from hermes.load.mappings import index_body
from hermes.load.records import Operation, Rejected, to_operation
from hermes.schema import Schema
from hermes.settings import load_settings

LIBRARY = Path(__file__).resolve().parents[3] / "examples" / "library" / "schema.json"


def _settings(schema: object) -> Any:
    return load_settings({"HERMES_SCHEMA": schema if isinstance(schema, str) else json.dumps(schema)})


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"title": {"type": "text"}}, "title: is a core field"),
        ({"Price": {"type": "number"}}, "Price: a field name is lowercase"),
        ({"2x": {"type": "number"}}, "2x: a field name"),
        ({"price": {"type": "money"}}, "HERMES_SCHEMA.fields.price.type"),
        ({"price": {"type": "number", "boost": 2}}, "HERMES_SCHEMA.fields.price: boost: for text and keyword fields"),
        ({"sku": {"type": "keyword", "search": True, "typos": False}}, "fields.sku: typos: for text fields only"),
        ({"sku": {"type": "keyword", "analyzer": "standard"}}, "fields.sku: analyzer: for text fields only"),
        ({"body": {"type": "text", "typos": False}}, "HERMES_SCHEMA.fields.body: typos: needs search: true"),
        ({"body": {"type": "text", "search": True, "typos": "no"}}, "HERMES_SCHEMA.fields.body.typos"),
        ({"price": {"type": "number", "search": True}}, "HERMES_SCHEMA.fields.price: search"),
        ({"body": {"type": "text", "boost": 2}}, "HERMES_SCHEMA.fields.body: boost: needs search: true"),
        ({"body": {"type": "text", "search": "yes"}}, "HERMES_SCHEMA.fields.body.search"),
        ({"body": {"type": "text", "searchable": True}}, "HERMES_SCHEMA.fields.body.searchable"),
        ({"body": {"type": "text", "analyzer": "a b"}}, "HERMES_SCHEMA.fields.body.analyzer"),
        ({"where": {"type": "geo_point", "facet": True}}, "HERMES_SCHEMA.fields.where: geo_point takes no"),
        ({"a": {"type": "geo_point"}, "b": {"type": "geo_point"}}, "a, b: at most one geo_point"),
        ({"distance": {"type": "number", "sort": True}}, "distance: is reserved"),
        ({"relevance": {"type": "number"}}, "relevance: is reserved"),
    ],
)
def test_a_bad_schema_stops_start_up_naming_the_field(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        _settings({"fields": fields})
    assert named in info.value.message
    assert "Value error" not in info.value.message


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("{bad", "not valid JSON"),
        ("file:///nonexistent.json", "cannot read"),
        ("[]", "HERMES_SCHEMA"),
        ('{"core": {"tags": {"analyzer": "x"}}}', "HERMES_SCHEMA.core.tags.analyzer"),
    ],
)
def test_unreadable_schema_is_named(value: str, named: str) -> None:
    with pytest.raises(ConfigurationError, match="HERMES_SCHEMA") as info:
        _settings(value)
    assert named in info.value.message


def test_the_library_schema_reads_from_a_file_and_round_trips() -> None:
    schema = _settings(f"file://{LIBRARY}").field_schema
    assert schema.geo_field == "place"
    assert Schema.from_recorded(schema.recorded()) == schema
    assert schema.recorded()["fields"]["pages"] == {"type": "number", "filter": True, "facet": True, "sort": True}
    assert Schema.from_recorded(None) == Schema()  # an index built before schemas existed


def test_mappings_follow_the_schema_and_record_it() -> None:
    schema = Schema.model_validate(
        {
            "fields": {
                "body": {"type": "text", "search": True, "analyzer": "stop"},
                "author": {"type": "text", "facet": True},
                "sku": {"type": "keyword"},
                "price": {"type": "number"},
                "on": {"type": "date"},
                "ok": {"type": "boolean"},
                "at": {"type": "geo_point"},
            },
            "core": {"title": {"analyzer": "simple"}},
        }
    )
    analysis = {"analyzer": {"mine": {"type": "stop", "stopwords": ["the"]}}}
    body = index_body(schema, analysis)
    props = body["mappings"]["properties"]
    assert props["body"] == {"type": "text", "analyzer": "stop"}
    assert props["author"] == {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 1024}}}
    assert (props["sku"]["type"], props["price"], props["on"], props["ok"], props["at"]) == (
        "keyword",
        {"type": "double"},
        {"type": "date"},
        {"type": "boolean"},
        {"type": "geo_point"},
    )
    assert props["title"]["analyzer"] == "simple"
    assert "analyzer" not in props["content"]
    assert body["mappings"]["dynamic"] is False
    assert body["mappings"]["_meta"]["hermes_schema"] == schema.recorded()
    assert body["settings"]["analysis"] == analysis
    assert "analyzer" not in index_body()["mappings"]["properties"]["title"]  # the shared core is not altered


_SCHEMA = Schema.model_validate(json.loads(LIBRARY.read_text()))
_BOOK = {"id": "b", "updated_at": "2026-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    "fields",
    [
        {"pages": 12},
        {"pages": 12.5},
        {"pages": [1, 2]},
        {"pages": None},
        {"published": "1851-10-18"},
        {"published": "2026-01-01T10:00:00+02:00"},
        {"available": False},
        {"place": {"lat": -90, "lon": 180}},
        {"place": "48.85,2.35"},
        {"place": [2.35, 48.85]},
        {"authors": ["A", "B"]},
        {"language": "en"},
    ],
)
def test_declared_values_elasticsearch_takes(fields: dict[str, Any]) -> None:
    assert isinstance(to_operation({**_BOOK, **fields}, schema=_SCHEMA), Operation)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"pages": "12"}, "pages: must be a finite number"),
        ({"pages": True}, "pages"),
        ({"pages": [1, "x"]}, "pages"),
        ({"published": "1851"}, "published: must be an RFC 3339"),
        ({"published": "2026-02-30"}, "published"),
        ({"available": "yes"}, "available: must be true or false"),
        ({"available": [True]}, "available"),
        ({"place": {"lat": 91, "lon": 0}}, "place: must be a point"),
        ({"place": "x,y"}, "place"),
        ({"place": {"lat": 1, "lon": 2, "z": 3}}, "place"),
        ({"authors": [1]}, "authors"),
        ({"language": {"a": 1}}, "language"),
    ],
)
def test_declared_values_elasticsearch_refuses_are_rejected_naming_the_field(
    fields: dict[str, Any], reason: str
) -> None:
    out = to_operation({**_BOOK, **fields}, schema=_SCHEMA)
    assert isinstance(out, Rejected)
    assert out.reason.startswith(reason)


def test_declared_dates_are_stored_as_elasticsearch_reads_them() -> None:
    given = {
        "published": [
            "2026-01-31 10:00:00z",
            "2026-01-31",
            "2026-01-31T10:00:00.1234567891+02:00",
            "2026-01-31T10:00:00Z",
        ]
    }
    out = to_operation({**_BOOK, **given}, schema=_SCHEMA)
    assert isinstance(out, Operation)
    assert out.document["published"] == [
        "2026-01-31T10:00:00.000000Z",
        "2026-01-31",
        "2026-01-31T08:00:00.123456Z",
        "2026-01-31T10:00:00Z",
    ]


def test_tombstones_and_undeclared_schemas_skip_the_checks() -> None:
    assert isinstance(to_operation({**_BOOK, "deleted": True, "pages": "x"}, schema=_SCHEMA), Operation)
    assert isinstance(to_operation({**_BOOK, "pages": "x"}), Operation)  # no schema: pages is an extra field
