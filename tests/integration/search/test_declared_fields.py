"""Declared fields (CONTRACT.md § Fields) end to end: the library demo (examples/library) loaded by the
full load into the real Elasticsearch, searched through the search function."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hermes.client import build_client
from hermes.errors import IndexRejectedError
from hermes.load import indices
from hermes.load.delta import delta_load
from hermes.load.full import full_load
from hermes.load.state import State
from hermes.operator.loads import status
from hermes.settings import Settings
from tests.support.corpus import write_ndjson
from tests.support.settings import settings_with

pytestmark = pytest.mark.integration

LIBRARY = Path(__file__).resolve().parents[3] / "examples" / "library"
SCHEMA = f"file://{LIBRARY / 'schema.json'}"
BOOKS = f"file://{LIBRARY / 'books.json'}"
LONDON, PARIS = "51.5074,-0.1278", "48.8566,2.3522"


def _load_library(settings: Settings) -> Settings:
    es = build_client(settings)
    try:
        report = full_load(es, settings)
    finally:
        es.close()
    assert (report["indexed"], report["skipped"]) == (28, 0)
    return settings


@pytest.fixture(scope="module")
def shared_library(es_url: str, module_alias: str) -> Settings:
    """The library, loaded once for the module's read-only tests."""
    shared = settings_with(ES_URL=es_url, ES_INDEX=module_alias, DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA=SCHEMA)
    return _load_library(shared)


@pytest.fixture
def library(make_settings: Any) -> Settings:
    """The library in this test's own alias, for a test that loads into it again."""
    return _load_library(make_settings(DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA=SCHEMA))


@pytest.fixture
def client(shared_library: Settings, function_client: Any) -> Any:
    return function_client("search", shared_library)


def _search(client: Any, **params: Any) -> dict[str, Any]:
    resp = client.get("/search", query_string={"q": "*", "size": 100, **params})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def _ids(body: dict[str, Any]) -> set[str]:
    return {h["id"] for h in body["hits"]}


def _bad(client: Any, **params: Any) -> str:
    resp = client.get("/search", query_string={"q": "*", **params})
    assert resp.status_code == 400, resp.get_json()
    error = resp.get_json()["error"]
    assert error["parameter"] in error["message"]
    return str(error["parameter"])


def test_the_index_records_the_schema_it_was_built_with(shared_library: Any, es: Any) -> None:
    served = indices.indices_behind(es, shared_library.es_index)[0]
    meta = indices.managed_meta(es, served)
    assert meta["hermes_schema"] == shared_library.field_schema.recorded()
    mapping = es.indices.get_mapping(index=served)[served]["mappings"]["properties"]
    assert mapping["pages"] == {"type": "double"}
    assert mapping["place"] == {"type": "geo_point"}
    assert mapping["authors"]["fields"]["raw"]["type"] == "keyword"


def test_filter_values_of_one_field_or_different_fields_and(client: Any) -> None:
    austen_or_tolstoy = _search(client, **{"filter.authors": ["Jane Austen", "Leo Tolstoy"]})
    assert _ids(austen_or_tolstoy) == {"pride-and-prejudice", "emma", "war-and-peace", "anna-karenina"}
    in_russian = _search(client, **{"filter.authors": ["Jane Austen", "Leo Tolstoy"], "filter.language": "ru"})
    assert _ids(in_russian) == {"war-and-peace", "anna-karenina"}
    assert in_russian["total"] == 2
    two_authors = _search(client, **{"filter.authors": "Neil Gaiman"})
    assert _ids(two_authors) == {"good-omens"}  # any of a record's authors matches


def test_boolean_and_date_filters(client: Any) -> None:
    available = _search(client, **{"filter.available": "false"})
    assert all(h["document"]["available"] is False for h in available["hits"])
    assert available["total"] == 10  # every third of the 28 books
    assert _ids(_search(client, **{"filter.published": "1851-10-18"})) == {"moby-dick"}


def test_facets_are_disjunctive(client: Any) -> None:
    body = _search(client, **{"filter.language": "ru"})
    languages = {f["value"]: f["count"] for f in body["facets"]["language"]}
    # The language facet ignores the language filter: every language, with its full count.
    assert languages == {"en": 15, "fr": 4, "ru": 4, "de": 2, "es": 2, "it": 1}
    # Every other facet is narrowed by it.
    assert {f["value"]: f["count"] for f in body["facets"]["authors"]} == {"Leo Tolstoy": 2, "Fyodor Dostoevsky": 2}
    assert body["facets"]["pages"] == {"min": 551.0, "max": 1225.0}
    assert body["facets"]["published"] == {"min": "1866-01-01T00:00:00.000Z", "max": "1880-11-01T00:00:00.000Z"}
    assert {f["value"] for f in body["facets"]["available"]} <= {True, False}
    assert sum(f["count"] for f in body["facets"]["available"]) == 4
    assert {f["value"] for f in body["facets"]["tags"]} == {"novel", "history", "war", "romance", "crime"}


def test_ranges_are_inclusive_and_leave_their_own_facet_whole(client: Any) -> None:
    short = _search(client, **{"range.pages": "..255"})
    assert _ids(short) == {
        "communist-manifesto",
        "little-prince",
        "alice",
        "things-fall-apart",
        "great-gatsby",
        "the-trial",
    }
    assert short["facets"]["pages"] == {"min": 23.0, "max": 1463.0}  # its own range does not narrow it
    modern = _search(client, **{"range.published": "1950-01-01..", "range.pages": "300.."})
    assert _ids(modern) == {"solitude", "beloved", "name-of-the-rose"}
    between = _search(client, **{"range.published": "1900-01-01T00:00:00Z..1925-04-26"})
    assert _ids(between) == {"ulysses", "great-gatsby", "the-trial"}


def test_sort_by_declared_fields(client: Any) -> None:
    ascending = [h["id"] for h in _search(client, sort="pages")["hits"]]
    assert ascending[:3] == ["communist-manifesto", "little-prince", "alice"]
    assert ascending[-1] == "les-miserables"
    assert [h["id"] for h in _search(client, sort="-published", size=2)["hits"]] == ["good-omens", "beloved"]
    assert _search(client, sort="published", size=1)["hits"][0]["id"] == "don-quixote"


def test_near_radius_and_distance_sort(client: Any) -> None:
    london = _search(client, near=LONDON)  # default radius: 10 km
    assert len(london["hits"]) == 12
    assert all(h["document"]["place"] == {"lat": 51.5074, "lon": -0.1278} for h in london["hits"])
    around_paris = _search(client, near=PARIS, radius=400, sort="distance")
    london_ids = [h["id"] for h in around_paris["hits"]][-12:]
    assert london_ids == sorted(london_ids)  # equal distances: by id
    distances = [h["distance_km"] for h in around_paris["hits"]]
    assert distances == sorted(distances)
    assert distances[0] == 0.0
    brussels = next(h for h in around_paris["hits"] if h["id"] == "les-miserables")
    assert 255 < brussels["distance_km"] < 270  # Paris to Brussels, as the crow flies
    assert {h["id"] for h in around_paris["hits"]} >= {"ulysses", "madame-bovary", "monte-cristo", "les-miserables"}
    assert len(around_paris["hits"]) == 3 + 1 + 12  # Paris, Brussels (264 km), London (344 km)
    assert _ids(_search(client, near=PARIS, radius=300)) == {
        "ulysses",
        "madame-bovary",
        "monte-cristo",
        "les-miserables",
    }


def test_fields_selects_stored_fields(client: Any) -> None:
    hit = _search(client, q="hobbit", fields="title,authors")["hits"][0]
    assert hit["document"] == {"id": "the-hobbit", "title": "The Hobbit", "authors": ["J. R. R. Tolkien"]}
    assert hit["highlight"]["title"] == ["The <mark>Hobbit</mark>"]


def test_declared_search_fields_are_searched_with_their_boost(
    client: Any, make_settings: Any, function_client: Any
) -> None:
    body = _search(client, q="tolkien")
    assert [h["id"] for h in body["hits"]] == ["the-hobbit"]
    assert body["hits"][0]["highlight"]["authors"] == ["J. R. R. <mark>Tolkien</mark>"]
    # Only authors match "tolkien": the score scales with the field's boost (2 in the library schema).
    fields = json.loads((LIBRARY / "schema.json").read_text())["fields"]
    boosted = make_settings(
        DATA_SOURCE_URL=BOOKS,
        HERMES_SCHEMA=json.dumps({"fields": {**fields, "authors": {**fields["authors"], "boost": 10}}}),
    )
    full_load(build_client(boosted), boosted)
    other = function_client("search", boosted)  # a new process: not the served schema this one keeps for 10 s
    ratio = _search(other, q="tolkien")["hits"][0]["score"] / body["hits"][0]["score"]
    assert ratio == pytest.approx(5, rel=0.01)


def test_a_correction_keeps_the_declared_filters(client: Any) -> None:
    # "wjalw": two edits from "whale", beyond the typo tolerance of a five-letter word.
    assert _search(client, q="wjalw", **{"filter.language": "en"})["did_you_mean"] == "whale"
    assert "did_you_mean" not in _search(client, q="wjalw", **{"filter.language": "ru"})  # no whale in Russian
    assert "did_you_mean" not in _search(client, q="wjalw", **{"range.pages": "..300"})  # Moby-Dick is longer


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"filter.nope": "x"}, "filter.nope"),
        ({"filter.place": "1,2"}, "filter.place"),
        ({"filter.pages": "many"}, "filter.pages"),
        ({"filter.available": "yes"}, "filter.available"),
        ({"filter.published": "last year"}, "filter.published"),
        ({"range.language": "a..b"}, "range.language"),
        ({"range.pages": "300"}, "range.pages"),
        ({"range.pages": "500..100"}, "range.pages"),
        ({"range.pages": ["1..2", "3..4"]}, "range.pages"),
        ({"sort": "language"}, "sort"),
        ({"sort": "distance"}, "sort"),
        ({"near": "91,0"}, "near"),
        ({"near": "London"}, "near"),
        ({"radius": "5"}, "radius"),
        ({"near": LONDON, "radius": "0"}, "radius"),
        ({"fields": "title,secret"}, "fields"),
        ({"fields": "title,deleted"}, "fields"),
    ],
)
def test_bad_parameters_are_400_naming_them(client: Any, params: dict[str, Any], parameter: str) -> None:
    assert _bad(client, **params) == parameter


def test_openapi_shows_the_served_schema(client: Any) -> None:
    spec = client.get("/openapi.json").get_json()
    params = {p["name"]: p for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert {"filter.authors", "filter.pages", "range.pages", "range.published", "near", "radius", "fields"} <= set(
        params
    )
    assert "range.language" not in params
    assert params["filter.pages"]["schema"]["items"] == {"type": "number"}
    assert set(params["sort"]["schema"]["enum"]) >= {"pages", "-pages", "published", "-published", "distance"}


def test_a_changed_schema_waits_for_the_next_full_load(
    library: Any, make_settings: Any, es: Any, function_client: Any
) -> None:
    changed = make_settings(DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA='{"fields": {"language": {"type": "keyword"}}}')
    report = status(es, changed)
    assert report["schema"]["behind"] is True
    assert "next full load" in report["schema"]["message"]
    # The search function serves the served index's schema, whatever its own environment says.
    client = function_client(
        "search", library, HERMES_SCHEMA='{"fields": {"language": {"type": "keyword"}}}', HERMES_SCHEMA_REFRESH_S=0
    )  # read the served schema on every search
    assert _search(client, **{"filter.pages": "96"})["hits"][0]["id"] == "little-prince"
    full_load(build_client(changed), changed)
    assert status(es, changed)["schema"]["behind"] is False
    assert _bad(client, **{"filter.pages": "96"}) == "filter.pages"  # the same process, the new index's schema
    assert "pages" not in _search(client)["facets"]


def test_delta_writes_any_record_without_growing_the_mapping(
    library: Any, es: Any, tmp_path: Path, make_settings: Any
) -> None:
    served = indices.indices_behind(es, library.es_index)[0]
    before = es.indices.get_mapping(index=served)[served]["mappings"]
    changes = [
        {
            "id": "new-book",
            "updated_at": "2026-11-22T10:00:00Z",
            "title": "A New Book",
            "pages": 120,
            "isbn": "978-0-00-000000-0",
            "series": {"name": "x", "number": 1},
        },
        {"id": "bad-pages", "updated_at": "2026-11-22T10:00:00Z", "title": "Bad", "pages": "many"},
        {"id": "bad-place", "updated_at": "2026-11-22T10:00:00Z", "title": "Bad", "place": {"lat": 95, "lon": 0}},
    ]
    # Configured: pages is a keyword now. The delta still checks against the served index's schema.
    settings = make_settings(
        DATA_SOURCE_URL=write_ndjson(tmp_path / "d.ndjson", changes),
        HERMES_SCHEMA='{"fields": {"pages": {"type": "keyword"}}}',
    )
    report = delta_load(build_client(settings), settings)
    assert (report["indexed"], report["invalid"]) == (1, 2)
    assert es.indices.get_mapping(index=served)[served]["mappings"] == before
    stored = es.get(index=library.es_index, id="new-book")["_source"]
    assert stored["series"] == {"name": "x", "number": 1}  # kept in _source, not mapped
    _, letters = State(es, settings.state_index).dead_letters()
    reasons = {d["record_id"]: d["reason"] for d in letters}
    assert reasons["bad-pages"].startswith("pages: must be a finite number")
    assert reasons["bad-place"].startswith("place: must be a point")


# Core analysis only (the test distribution has no analysis-common): a custom analyzer of the standard
# tokenizer with the lowercase and English stop filters. README shows the full-distribution example.
ANALYSIS = (
    '{"analyzer": {"no_stop_words": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "stop"]}}}'
)
ANALYZED = json.dumps(
    {
        "fields": {
            **json.loads((LIBRARY / "schema.json").read_text())["fields"],
            "note": {"type": "text", "search": True, "analyzer": "no_stop_words"},
        },
        "core": {"title": {"analyzer": "no_stop_words"}, "content": {"analyzer": "no_stop_words", "boost": 0.5}},
    }
)


def test_bring_your_own_analysis(make_settings: Any, es: Any, function_client: Any) -> None:
    settings = make_settings(DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA=ANALYZED, HERMES_ANALYSIS=ANALYSIS)
    full_load(build_client(settings), settings)
    served = indices.indices_behind(es, settings.es_index)[0]
    analysis = es.indices.get_settings(index=served)[served]["settings"]["index"]["analysis"]
    assert analysis["analyzer"]["no_stop_words"]["filter"] == ["lowercase", "stop"]
    props = es.indices.get_mapping(index=served)[served]["mappings"]["properties"]
    assert props["title"]["analyzer"] == props["note"]["analyzer"] == "no_stop_words"
    client = function_client("search", settings)
    # "the" is a stop word now: it matches no title or content, where the standard analyzer matched many.
    assert _search(client, q="the")["total"] == 0
    assert _search(client, q="the hobbit")["hits"][0]["id"] == "the-hobbit"
    assert status(es, settings)["schema"]["behind"] is False
    plain = make_settings(DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA=SCHEMA)
    full_load(build_client(plain), plain)
    assert _search(client, q="the")["total"] > 10


def test_an_analyzer_elasticsearch_lacks_fails_the_load_and_changes_nothing(
    library: Any, es: Any, make_settings: Any
) -> None:
    served = indices.indices_behind(es, library.es_index)
    english = make_settings(DATA_SOURCE_URL=BOOKS, HERMES_ANALYSIS='{"analyzer": {"en": {"type": "english"}}}')
    with pytest.raises(IndexRejectedError, match=r"Unknown analyzer type \[english\]"):
        full_load(build_client(english), english)
    assert indices.indices_behind(es, library.es_index) == served
    assert list(indices.managed_indices(es, library.es_index)) == served


def test_a_type_change_inside_the_refresh_period_is_read_again(
    library: Any, make_settings: Any, function_client: Any
) -> None:
    client = function_client("search", library)
    assert _search(client)["facets"]["language"][0] == {"value": "en", "count": 15}  # schema cached for 10 s
    fields = json.loads((LIBRARY / "schema.json").read_text())["fields"]
    text = make_settings(
        DATA_SOURCE_URL=BOOKS,
        HERMES_SCHEMA=json.dumps({"fields": {**fields, "language": {"type": "text", "filter": True, "facet": True}}}),
    )
    full_load(build_client(text), text)
    # The cached schema asks for a terms aggregation on a text field, which Elasticsearch refuses;
    # the function reads the served schema again and searches once more.
    body = _search(client, **{"filter.language": "ru"})
    assert body["total"] == 4
    assert body["facets"]["language"][0] == {"value": "en", "count": 15}


def test_every_accepted_value_is_indexed_by_elasticsearch(
    make_settings: Any, tmp_path: Path, function_client: Any
) -> None:
    values = [
        {"pages": 12},
        {"pages": 12.5},
        {"pages": [1, 2]},
        {"pages": None},
        {"published": "1851-10-18"},
        {"published": "2026-01-31 22:00:00z"},
        {"published": "2026-01-31T23:30:00.1234567891-01:00"},
        {"published": ["2026-01-31T10:00:00+02:00", "2026-02-01"]},
        {"available": False},
        {"place": {"lat": -90, "lon": 180}},
        {"place": "48.85,2.35"},
        {"place": [2.35, 48.85]},
        {"authors": ["A", "B"]},
        {"authors": "C"},
        {"language": ["en", "fr"]},
    ]
    records = [
        {"id": f"v{i}", "updated_at": "2026-01-01T00:00:00Z", "title": f"Value {i}", **v} for i, v in enumerate(values)
    ]
    settings = make_settings(DATA_SOURCE_URL=write_ndjson(tmp_path / "v.ndjson", records), HERMES_SCHEMA=SCHEMA)
    report = full_load(build_client(settings), settings)
    assert (report["indexed"], report["failed"], report["invalid"]) == (len(values), 0, 0)
    client = function_client("search", settings)
    # A full date is the whole day, in filters and as a range's upper bound; date-times are instants.
    on_the_31st = {"v5", "v7"}  # 22:00Z, and 10:00+02:00 (08:00Z); not 23:30-01:00 (Feb 1st, 00:30Z)
    assert _ids(_search(client, **{"filter.published": "2026-01-31"})) == on_the_31st
    assert _ids(_search(client, **{"range.published": "2026-01-31..2026-01-31"})) == on_the_31st
    assert _ids(_search(client, **{"range.published": "1900-01-01..2026-01-31"})) == on_the_31st
    assert _ids(_search(client, **{"filter.published": "2026-02-01"})) == {"v6", "v7"}
    assert _ids(_search(client, **{"filter.published": "2026-01-31T22:00:00Z"})) == {"v5"}
