"""Algolia's multi-query (``POST /1/indexes/*/queries``) on the library demo, loaded by the full load into the real
Elasticsearch: the three body forms the clients send, filters, facets, highlights, pages, keys, CORS and errors."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from hermes.search.keys import mint
from hermes.settings import Settings
from tests.integration.search.test_declared_fields import BOOKS, SCHEMA, _load_library
from tests.support.settings import settings_with

pytestmark = pytest.mark.integration

PATH = "/1/indexes/*/queries"
SECRET = "instantsearch-test-secret-of-32-bytes!"
ORIGIN = "https://shop.example"


@pytest.fixture(scope="module")
def books(es_url: str, module_alias: str) -> Settings:
    """The library demo, loaded once for the module (its tests only read)."""
    return _load_library(
        settings_with(ES_URL=es_url, ES_INDEX=module_alias, DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA=SCHEMA)
    )


@pytest.fixture
def client(books: Settings, function_client: Any) -> Any:
    return function_client("search", books, HERMES_CORS_ORIGINS=ORIGIN)


@pytest.fixture
def keyed(books: Settings, function_client: Any) -> Any:
    return function_client("search", books, HERMES_SEARCH_KEY_SECRET=SECRET)


def _post(client: Any, alias: str, *requests: dict[str, Any], **kwargs: Any) -> Any:
    body = {"requests": [{"indexName": alias, **r} for r in requests]}
    return client.post(PATH, data=json.dumps(body), content_type="text/plain", **kwargs)


def _results(client: Any, alias: str, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    resp = _post(client, alias, *requests)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["results"]  # type: ignore[no-any-return]


def _one(client: Any, alias: str, **params: Any) -> dict[str, Any]:
    return _results(client, alias, {"hitsPerPage": 100, **params})[0]


def _ids(result: dict[str, Any]) -> set[str]:
    return {h["objectID"] for h in result["hits"]}


def _error(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 400, resp.get_json()
    body = resp.get_json()
    # Hermes's error and, beside it, Algolia's message and status: what the clients show.
    assert body["message"] == body["error"]["message"]
    assert body["status"] == 400
    return body["error"]  # type: ignore[no-any-return]


def test_the_three_body_forms_answer_alike(client: Any, books: Settings) -> None:
    alias = books.es_index
    params = {"query": "whale", "hitsPerPage": 5, "facets": ["language"], "highlightPreTag": "<b>"}
    v4 = {"params": urlencode({k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()})}
    flat, as_text, as_object = _results(client, alias, params, v4, {"params": params})
    for result in (flat, as_text, as_object):
        assert result["nbHits"] == 2  # "while" is a typo away
        assert result["hits"][0]["objectID"] == "moby-dick"
        assert result["facets"] == flat["facets"]
        assert result["hitsPerPage"] == 5
        assert result["query"] == "whale"
        assert result["index"] == alias
    assert as_text["params"] == v4["params"]  # echoed as sent
    assert "query=whale" in flat["params"]


def test_hits_carry_the_document_and_highlights_in_the_requested_tags(client: Any, books: Settings) -> None:
    result = _one(
        client,
        books.es_index,
        query="white whale",
        highlightPreTag="__ais-highlight__",
        highlightPostTag="__/ais-highlight__",
    )
    moby = next(h for h in result["hits"] if h["objectID"] == "moby-dick")
    assert moby["title"] == "Moby-Dick"
    assert moby["pages"] == 635
    content = moby["_highlightResult"]["content"]
    assert "the __ais-highlight__white__/ais-highlight__ __ais-highlight__whale__/ais-highlight__" in content["value"]
    assert (content["matchLevel"], sorted(content["matchedWords"])) == ("full", ["whale", "white"])
    assert moby["_highlightResult"]["title"] == {"value": "Moby-Dick", "matchLevel": "none", "matchedWords": []}
    # A list attribute (authors, a searched text field) has one highlight per value.
    assert moby["_highlightResult"]["authors"] == [
        {"value": "Herman Melville", "matchLevel": "none", "matchedWords": []}
    ]
    alice = next(h for h in result["hits"] if h["objectID"] == "alice")
    assert alice["_highlightResult"]["content"]["matchLevel"] == "partial"


def test_highlights_are_the_stored_text_for_the_widget_to_escape(client: Any, books: Settings) -> None:
    result = _one(client, books.es_index, query="hobbit", attributesToHighlight=["title"])
    hobbit = next(h for h in result["hits"] if h["objectID"] == "the-hobbit")
    assert set(hobbit["_highlightResult"]) == {"title"}
    assert hobbit["_highlightResult"]["title"]["value"] == "The <em>Hobbit</em>"
    poe = _one(client, books.es_index, query="dragon's", attributesToHighlight=["content"])["hits"][0]
    assert "<em>dragon's</em>" in poe["_highlightResult"]["content"]["value"]  # not &#39;


def test_facet_filters_or_inside_and_across_not(client: Any, books: Settings) -> None:
    alias = books.es_index
    either = _one(client, alias, facetFilters=[["language:ru", "language:fr"]], facets=["language", "authors"])
    assert either["nbHits"] == 8
    # Disjunctive, as InstantSearch expects: the language facet keeps every language, authors narrow.
    assert either["facets"]["language"]["en"] == 15
    assert set(either["facets"]["authors"]) >= {"Leo Tolstoy", "Victor Hugo"}
    assert "Mark Twain" not in either["facets"]["authors"]
    both = _one(client, alias, facetFilters=["language:ru", "authors:Leo Tolstoy"])
    assert _ids(both) == {"war-and-peace", "anna-karenina"}
    not_english = _one(client, alias, facetFilters=["language:-en"])
    assert not_english["nbHits"] == 28 - 15
    across = _one(client, alias, facetFilters=[["language:ru", "authors:Mark Twain"]])
    assert _ids(across) == {"war-and-peace", "anna-karenina", "crime-and-punishment", "brothers-karamazov"} | {
        "huckleberry-finn"
    }
    as_text = _one(client, alias, facetFilters="language:ru,(authors:Leo Tolstoy,authors:Victor Hugo)")
    assert _ids(as_text) == _ids(both)
    tagged = _one(client, alias, facetFilters=["tags:crime", "available:true"], facets=["tags", "available"])
    assert _ids(tagged) == {"crime-and-punishment", "name-of-the-rose"}
    assert tagged["facets"]["available"] == {"true": 2, "false": 1}  # disjunctive on its own field


def test_numeric_filters_on_a_declared_number_field(client: Any, books: Settings) -> None:
    alias = books.es_index
    between = _one(client, alias, numericFilters=["pages>=500", "pages<=700"], facets=["pages"])
    assert _ids(between) == {"moby-dick", "crime-and-punishment", "federalist", "name-of-the-rose"}
    # The range's own facet keeps the whole span (disjunctive): what rangeInput shows as its bounds.
    assert between["facets_stats"] == {"pages": {"min": 23, "max": 1463}}
    assert between["facets"]["pages"] == {}
    assert _ids(_one(client, alias, numericFilters=["pages:500 TO 700"])) == _ids(between)
    assert _one(client, alias, numericFilters="pages!=635")["nbHits"] == 27
    assert _ids(_one(client, alias, numericFilters=[["pages<30", "pages>1400"]])) == {
        "communist-manifesto",
        "les-miserables",
    }
    assert _ids(_one(client, alias, numericFilters=["pages=96"])) == {"little-prince"}


def test_pages_and_facet_only_queries(client: Any, books: Settings) -> None:
    alias = books.es_index
    first, third, facets_only = _results(
        client,
        alias,
        {"hitsPerPage": 5},
        {"hitsPerPage": 5, "page": 2},
        {"hitsPerPage": 0, "page": 0, "facets": "language", "analytics": False},
    )
    assert (first["nbHits"], first["nbPages"], first["page"]) == (28, 6, 0)
    assert (len(third["hits"]), third["page"]) == (5, 2)
    assert not _ids(first) & _ids(third)
    assert (facets_only["hits"], facets_only["nbHits"], facets_only["nbPages"]) == ([], 28, 0)
    assert sum(facets_only["facets"]["language"].values()) == 28
    last = _one(client, alias, hitsPerPage=20, page=1)
    assert len(last["hits"]) == 8


def test_attributes_to_retrieve_and_every_facet(client: Any, books: Settings) -> None:
    result = _one(client, books.es_index, query="emma", attributesToRetrieve=["title"], facets=["*"])
    assert {k for k in result["hits"][0] if not k.startswith("_")} == {"objectID", "id", "title"}
    assert set(result["facets"]) == {"tags", "authors", "language", "pages", "published", "available"}


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"facets": ["place"]}, "facets"),
        ({"facetFilters": ["shelf:a"]}, "facetFilters"),
        ({"facetFilters": ["language"]}, "facetFilters"),
        ({"facetFilters": ["available:maybe"]}, "facetFilters"),
        ({"facetFilters": [[["language:en"]]]}, "facetFilters"),
        ({"numericFilters": ["language>3"]}, "numericFilters"),
        ({"numericFilters": ["published>3"]}, "numericFilters"),
        ({"numericFilters": ["pages>>3"]}, "numericFilters"),
        ({"numericFilters": ["pages>nan"]}, "numericFilters"),
        ({"hitsPerPage": 101}, "hitsPerPage"),
        ({"hitsPerPage": "many"}, "hitsPerPage"),
        ({"page": 50}, "page"),
        ({"query": "x" * 257}, "query"),
        ({"filters": "language:en"}, "filters"),
        ({"type": "facet", "facet": "language"}, "type"),
        ({"attributesToRetrieve": ["secret"]}, "attributesToRetrieve"),
        ({"indexName": "another"}, "indexName"),
    ],
)
def test_what_hermes_cannot_honour_is_a_400_naming_the_parameter(
    client: Any, books: Settings, params: dict[str, Any], parameter: str
) -> None:
    error = _error(_post(client, books.es_index, params))
    assert error["parameter"] == parameter
    assert error["type"] == "invalid_parameter"


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"requests": []}', b'{"requests": [1]}', b'{"requests": {}}'])
def test_a_body_that_is_no_multi_query_is_a_400(client: Any, body: bytes) -> None:
    error = _error(client.post(PATH, data=body, content_type="text/plain"))
    assert error["parameter"] in ("requests", "indexName")


def test_other_methods_are_405(client: Any) -> None:
    assert client.get(PATH).status_code == 405


def test_the_preflight_allows_post_and_algolias_headers(client: Any) -> None:
    resp = client.options(
        PATH,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-algolia-api-key,x-algolia-application-id,content-type",
        },
    )
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"x-algolia-api-key", "x-algolia-application-id", "content-type", "authorization"} <= allowed
    search = client.options("/search", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert "POST" not in search.headers["Access-Control-Allow-Methods"]


def test_a_key_is_needed_and_read_where_algolia_clients_send_it(keyed: Any, books: Settings) -> None:
    alias = books.es_index
    missing = _post(keyed, alias, {"query": "whale"})
    assert missing.status_code == 401
    assert "search key is required" in missing.get_json()["message"]
    russian = mint(SECRET, filter={"language": ["ru"]}, max_size=10)
    for how in (
        {"headers": {"X-Algolia-API-Key": russian, "X-Algolia-Application-Id": "hermes"}},
        {"query_string": {"x-algolia-api-key": russian, "x-algolia-application-id": "hermes"}},
        {"headers": {"Authorization": f"Bearer {russian}"}},
    ):
        resp = _post(keyed, alias, {"hitsPerPage": 10, "facets": ["language"]}, **how)
        assert resp.status_code == 200, resp.get_json()
        result = resp.get_json()["results"][0]
        assert result["nbHits"] == 4  # the key's filter holds for hits and facets
        assert result["facets"]["language"] == {"ru": 4}
    forged = _post(keyed, alias, {"query": "whale"}, headers={"X-Algolia-API-Key": "not-a-key"})
    assert forged.status_code == 401
    assert forged.get_json()["status"] == 401
    big = _post(keyed, alias, {"hitsPerPage": 11}, headers={"X-Algolia-API-Key": russian})
    assert _error(big)["parameter"] == "hitsPerPage"


def test_every_query_of_a_multi_query_counts_against_the_rate(books: Settings, function_client: Any) -> None:
    client = function_client("search", settings_with(books, HERMES_RATE_LIMIT="3"))
    alias = books.es_index
    assert _post(client, alias, {"query": "whale"}, {"query": "emma"}).status_code == 200
    limited = _post(client, alias, {"query": "whale"}, {"query": "emma"})
    assert limited.status_code == 429
    assert limited.headers["Retry-After"]
    assert limited.get_json()["status"] == 429
