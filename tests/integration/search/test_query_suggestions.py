"""Query suggestions from what people search, on a real Elasticsearch: searches recorded by the search
function's analytics, then counted back by its `/suggest` (HERMES_SUGGEST_QUERIES)."""

from __future__ import annotations

from typing import Any

import pytest

from hermes.search.keys import mint
from hermes.settings import Settings
from tests.integration.search.test_rules import BOOKS, SCHEMA, _load_library
from tests.support.process import eventually

pytestmark = pytest.mark.integration

SECRET = "a-test-secret-of-at-least-32-bytes!"
NOTHING = "qqxxzzyy wwvvkkjj"  # finds nothing, however typo-tolerant


@pytest.fixture
def library(make_settings: Any) -> Settings:
    return _load_library(make_settings(DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA=SCHEMA))


def _searched(es: Any, settings: Settings, client: Any, searches: list[tuple[str | None, str]]) -> None:
    """Run each (key, q) search, then wait until analytics has written every one of them."""
    pattern = f"{settings.analytics_prefix}-*"

    def recorded() -> int:
        es.indices.refresh(index=pattern, allow_no_indices=True)
        return int(es.count(index=pattern, allow_no_indices=True)["count"])

    before = recorded()
    for key, q in searches:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        assert client.get("/search", query_string={"q": q}, headers=headers).status_code == 200

    def written() -> bool:
        return recorded() == before + len(searches)

    assert eventually(written, 30)


def _queries(client: Any, q: str, key: str | None = None) -> list[str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    resp = client.get("/suggest", query_string={"q": q}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return [s["query"] for s in resp.get_json()["queries"]]


def test_with_keys_a_query_shows_once_enough_keys_searched_it(library: Settings, es: Any, function_client: Any) -> None:
    client = function_client(
        "search",
        library,
        HERMES_SEARCH_KEY_SECRET=SECRET,
        HERMES_ANALYTICS=True,
        HERMES_ANALYTICS_FLUSH_S=0.1,
        HERMES_SUGGEST_QUERIES=True,
        HERMES_SUGGEST_MIN_COUNT=3,
        HERMES_SUGGEST_REFRESH_S=0,
    )
    ann, bob, cem = (mint(SECRET, sub=name) for name in ("ann", "bob", "cem"))
    searches = [(k, "The  Hobbit") for k in (ann, bob, cem)]  # three people
    searches += [(ann, "the trial")]  # typed once
    searches += [(ann, "the great gatsby")] * 5  # one person, many times: still one person
    searches += [(k, "theqqxxzzyy") for k in (ann, bob, cem)]  # found nothing
    _searched(es, library, client, searches)
    assert _queries(client, "the", ann) == ["the hobbit"]
    assert _queries(client, "THE H", bob) == ["the hobbit"]
    assert _queries(client, "the t", bob) == []
    assert _queries(client, "the g", bob) == []
    assert _queries(client, "theq", bob) == []
    # a key confined to some documents gets no one else's queries, but still its titles
    tenant = mint(SECRET, sub="tenant", filter={"language": ["en"]})
    resp = client.get("/suggest?q=the", headers={"Authorization": f"Bearer {tenant}"}).get_json()
    assert resp["queries"] == []
    assert resp["suggestions"]


def test_without_keys_searches_are_counted(library: Settings, es: Any, function_client: Any) -> None:
    client = function_client(
        "search",
        library,
        HERMES_ANALYTICS=True,
        HERMES_ANALYTICS_FLUSH_S=0.1,
        HERMES_SUGGEST_QUERIES=True,
        HERMES_SUGGEST_MIN_COUNT=2,
        HERMES_SUGGEST_REFRESH_S=0,
    )
    _searched(es, library, client, [(None, "dracula"), (None, "Dracula"), (None, "dune"), (None, NOTHING)])
    assert _queries(client, "d") == ["dracula"]
    _searched(es, library, client, [(None, "dune"), (None, NOTHING), (None, NOTHING)])
    assert _queries(client, "d") == ["dracula"]  # dune finds nothing in the library, however often
    assert _queries(client, "q") == []
    assert _queries(client, "*") == []


def test_off_by_default(library: Settings, function_client: Any) -> None:
    client = function_client("search", library, HERMES_ANALYTICS=True, HERMES_ANALYTICS_FLUSH_S=0.1)
    for _ in range(3):
        client.get("/search?q=dracula")
    body = client.get("/suggest?q=dra").get_json()
    assert body["queries"] == []
    assert [s["id"] for s in body["suggestions"]] == ["dracula"]
