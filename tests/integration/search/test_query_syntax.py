"""Query syntax and exact fields end to end on the library books (examples/library), loaded by a real full
load and searched through the search function: phrases, exclusions, open quotes, exclusion-only queries,
searched keyword fields (ISBNs), number-like words, typo-free fields and ``explain=true``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hermes.client import build_client
from hermes.load.full import full_load
from hermes.search.explain import ANY_CASE
from hermes.settings import Settings
from tests.support.settings import settings_with

pytestmark = pytest.mark.integration

LIBRARY = Path(__file__).resolve().parents[3] / "examples" / "library"
SCHEMA = f"file://{LIBRARY / 'schema.json'}"
BOOKS = f"file://{LIBRARY / 'books.json'}"
ALL = 28
MOBY_ISBN = "9798000000014"  # the neighbour, one digit different, is no book's
PRIDE_ISBN = "9798000000021"  # two digits from Moby-Dick's: typo tolerance would have matched it


def _load(settings: Settings) -> Settings:
    es = build_client(settings)
    try:
        report = full_load(es, settings)
    finally:
        es.close()
    assert (report["indexed"], report["skipped"]) == (ALL, 0)
    return settings


@pytest.fixture(scope="module")
def shared_library(es_url: str, module_alias: str) -> Settings:
    """The library, loaded once for the module's read-only tests."""
    return _load(settings_with(ES_URL=es_url, ES_INDEX=module_alias, DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA=SCHEMA))


@pytest.fixture
def client(shared_library: Settings, function_client: Any) -> Any:
    return function_client("search", shared_library)


def _search(client: Any, q: str, **params: Any) -> dict[str, Any]:
    resp = client.get("/search", query_string={"q": q, "size": 100, **params})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def _ids(body: dict[str, Any]) -> set[str]:
    return {h["id"] for h in body["hits"]}


def test_a_phrase_matches_only_those_words_in_that_order(client: Any) -> None:
    assert {"moby-dick", "alice"} <= _ids(_search(client, "white whale"))  # free words: any of them
    phrase = _search(client, '"white whale"')
    assert _ids(phrase) == {"moby-dick"}
    assert phrase["total"] == 1
    assert phrase["hits"][0]["highlight"]["content"] == [
        "A sea captain&#x27;s obsessive hunt for the <mark>white</mark> <mark>whale</mark> that took his leg, "
        "told by the sailor Ishmael."
    ]
    assert _search(client, '"whale white"')["total"] == 0  # in that order
    assert _search(client, '"white whael"')["total"] == 0  # no typos inside quotes


def test_a_quote_left_open_runs_to_the_end(client: Any) -> None:
    assert _ids(_search(client, '"white whale')) == {"moby-dick"}
    assert _ids(_search(client, 'hunt "white whale')) == {"moby-dick"}


def test_an_excluded_word_or_phrase_removes_the_documents_containing_it(client: Any) -> None:
    assert "moby-dick" in _ids(_search(client, "whale"))
    excluded = _search(client, "whale -captain")  # Moby-Dick says "captain's": the possessive counts
    assert "moby-dick" not in _ids(excluded)
    assert excluded["total"] >= 1  # what else "whale" found (a typo away: "while") stays
    white = _ids(_search(client, 'white -"white whale"'))
    assert "alice" in white and "moby-dick" not in white


def test_only_exclusions_match_everything_else_in_hits_totals_and_facets(client: Any) -> None:
    body = _search(client, "-captain")
    assert body["total"] == ALL - 1 and "moby-dick" not in _ids(body)
    assert sum(b["count"] for b in body["facets"]["language"]) == ALL - 1
    assert _search(client, "* -captain")["total"] == ALL - 1
    assert _search(client, '-captain -"white rabbit"')["total"] == ALL - 2
    assert all(not h["highlight"] for h in body["hits"])


def test_facets_count_what_the_phrase_found(client: Any) -> None:
    body = _search(client, '"white whale"')
    assert body["facets"]["tags"] == [{"value": "novel", "count": 1}, {"value": "sea", "count": 1}]


def test_did_you_mean_corrects_free_words_and_keeps_phrases_and_exclusions_as_typed(client: Any) -> None:
    body = _search(client, 'wahel "white whale"')
    assert body["total"] == 0
    assert body["did_you_mean"] == 'whale "white whale"'
    assert _search(client, "wahel -rabbit")["did_you_mean"] == "whale -rabbit"


def test_an_isbn_in_a_searched_keyword_field_matches_exactly(client: Any) -> None:
    found = _search(client, MOBY_ISBN)
    assert _ids(found) == {"moby-dick"}  # not Pride and Prejudice, two digits away
    assert found["hits"][0]["highlight"]["isbn"] == [f"<mark>{MOBY_ISBN}</mark>"]
    assert _ids(_search(client, PRIDE_ISBN)) == {"pride-and-prejudice"}
    neighbour = MOBY_ISBN[:-1] + "5"
    assert _search(client, neighbour)["total"] == 0
    assert "frankenstein" in _ids(_search(client, "frankenstien"))  # a title typo still matches


def test_a_year_is_never_fuzzy(client: Any) -> None:
    assert _ids(_search(client, "1327")) == {"name-of-the-rose"}
    neighbour = _search(client, "1328")
    assert neighbour["total"] == 0
    assert "did_you_mean" not in neighbour  # nor is it corrected to 1327
    assert "name-of-the-rose" in _ids(_search(client, "abbey 1328"))  # the other words still match


def test_explain_says_why_each_hit_scored(client: Any) -> None:
    plain = _search(client, "whale", size=5)
    assert all("explanation" not in h for h in plain["hits"])
    body = _search(client, '"white whale" hunt', size=5, explain="true")
    hit = body["hits"][0]
    assert hit["id"] == "moby-dick"
    why = hit["explanation"]
    assert why["score"] == pytest.approx(hit["score"], rel=1e-3)
    matched = {(m["field"], m["text"]) for m in why["matches"]}
    assert ("content", '"white whale"') in matched
    assert ("content", "hunt") in matched
    assert sum(m["score"] for m in why["matches"]) == pytest.approx(why["score"], rel=1e-3)
    outline = why["details"]
    assert outline["description"] == "sum of:"
    assert [d["description"] for d in outline["details"]] == ['content:"white whale"', "content:hunt"]
    assert len(json.dumps(why)) < 4000  # trimmed: a person reads it


def test_explain_names_the_word_a_typo_matched(client: Any) -> None:
    hits = {h["id"]: h for h in _search(client, "whale", size=5, explain="true")["hits"]}
    assert {"field": "content", "text": "while"} in [
        {k: m[k] for k in ("field", "text")} for m in hits["les-miserables"]["explanation"]["matches"]
    ]


def test_explain_shows_an_exact_field_match(client: Any) -> None:
    why = _search(client, MOBY_ISBN, size=1, explain="true")["hits"][0]["explanation"]
    (match,) = why["matches"]
    assert (match["field"], match["score"]) == ("isbn", 5.0)  # the field's boost
    # Elasticsearch before 8.12 does not name the value of a case-insensitive term in its explanation.
    assert match["text"] in {MOBY_ISBN, ANY_CASE}


def test_explain_is_bounded(client: Any) -> None:
    resp = client.get("/search", query_string={"q": "whale", "size": 11, "explain": "true"})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["parameter"] == "explain"
    assert client.get("/search", query_string={"q": "whale", "size": 11}).status_code == 200


def test_a_field_declared_without_typos_matches_as_typed(make_settings: Any, function_client: Any) -> None:
    schema = json.loads((LIBRARY / "schema.json").read_text())
    schema["fields"]["authors"]["typos"] = False
    settings = _load(make_settings(DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA=json.dumps(schema)))
    client = function_client("search", settings)
    assert _ids(_search(client, "tolkien")) == {"the-hobbit"}
    assert "the-hobbit" not in _ids(_search(client, "tolkein"))
    assert "frankenstein" in _ids(_search(client, "frankenstien"))  # titles still tolerate typos
