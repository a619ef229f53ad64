"""The text query built from a parsed ``q``: phrases, exclusions, exact fields and number-like words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hermes.schema import Schema
from hermes.search.fields import FieldQuery
from hermes.search.models import SearchParams
from hermes.search.query import correction_body, count_body, search_body
from hermes.search.syntax import parse
from hermes.search.text import positive_query, searched, text_query

SCHEMA = Schema.model_validate(
    {
        "fields": {
            "authors": {"type": "text", "search": True, "boost": 2},
            "codes": {"type": "text", "search": True, "typos": False},
            "isbn": {"type": "keyword", "search": True, "boost": 5},
            "language": {"type": "keyword", "filter": True},
        }
    }
)
FIELDS = searched(SCHEMA)
# Every key a text query may hold: query DSL the builders chose, never one the user typed.
DSL_KEYS = {
    "bool",
    "must",
    "should",
    "must_not",
    "multi_match",
    "query",
    "fields",
    "type",
    "fuzziness",
    "max_expansions",
    "operator",
    "term",
    "value",
    "case_insensitive",
    "boost",
    "match_all",
    "match_none",
    "isbn",
}


def _query(q: str, **kw: Any) -> dict[str, Any]:
    return text_query(parse(q), FIELDS, **kw)


def _clauses(query: Any) -> Iterator[dict[str, Any]]:
    if isinstance(query, dict):
        yield query
        for value in query.values():
            yield from _clauses(value)
    elif isinstance(query, list):
        for value in query:
            yield from _clauses(value)


def _keys(query: Any) -> set[str]:
    return {k for c in _clauses(query) for k in c}


def test_fields_are_grouped_by_how_they_match() -> None:
    assert FIELDS.typos == ("title^3", "content", "tags", "authors^2")
    assert FIELDS.exact == ("codes",)
    assert FIELDS.keywords == (("isbn", 5.0),)  # language is not searched


def test_a_plain_query_keeps_its_single_fuzzy_multi_match() -> None:
    plain = Schema()
    assert text_query(parse("white whale"), searched(plain)) == {
        "multi_match": {
            "query": "white whale",
            "fields": ["title^3", "content", "tags"],
            "type": "best_fields",
            "fuzziness": "AUTO",
            "max_expansions": 50,
        }
    }


def test_a_phrase_is_required_in_order_and_never_fuzzy() -> None:
    query = _query('moby "white whale"')
    must = query["bool"]["must"]
    assert must[0]["bool"]["should"][0]["multi_match"]["fuzziness"] == "AUTO"  # the free word
    phrase = must[1]["bool"]["should"]
    assert phrase[0] == {"multi_match": {"query": "white whale", "fields": FIELDS.text, "type": "phrase"}}
    assert phrase[1] == {"term": {"isbn": {"value": "white whale", "case_insensitive": True, "boost": 5.0}}}
    assert "fuzziness" not in json.dumps(must[1])


def test_exclusions_go_to_must_not_with_possessives() -> None:
    query = _query('whale -captain -"white rabbit"')
    assert query["bool"]["must"][0]["bool"]["should"][0]["multi_match"]["query"] == "whale"
    excluded = [c["multi_match"]["query"] for c in query["bool"]["must_not"] if "multi_match" in c]
    assert excluded == ["captain", "captain's", "captain’s", "white rabbit"]  # noqa: RUF001
    assert all(c["multi_match"]["type"] == "phrase" for c in query["bool"]["must_not"] if "multi_match" in c)
    assert {"term": {"isbn": {"value": "captain", "case_insensitive": True, "boost": 5.0}}} in query["bool"]["must_not"]


def test_exclusions_only_match_everything_else() -> None:
    query = _query("-captain")
    assert query["bool"]["must"] == [{"match_all": {}}]
    assert query["bool"]["must_not"]
    assert _query("* -captain")["bool"]["must"] == [{"match_all": {}}]
    assert _query('""') == {"match_none": {}}


def test_number_like_words_are_phrases_never_fuzzy() -> None:
    query = _query("whale 2019 978-0-14-243724-7")
    should = query["bool"]["should"]
    assert should[0]["multi_match"]["query"] == "whale" and should[0]["multi_match"]["fuzziness"] == "AUTO"
    numbers = [c["multi_match"] for c in should if "multi_match" in c and c["multi_match"]["type"] == "phrase"]
    assert [n["query"] for n in numbers] == ["2019", "978-0-14-243724-7"]
    assert all("fuzziness" not in n for n in numbers)
    isbn = [c["term"]["isbn"]["value"] for c in should if "term" in c]
    assert isbn == ["whale", "2019", "978-0-14-243724-7"]  # a keyword field: exact, every word


def test_typo_free_fields_match_as_typed() -> None:
    should = _query("whale")["bool"]["should"]
    assert should[0]["multi_match"]["fields"] == list(FIELDS.typos)
    assert should[1] == {"multi_match": {"query": "whale", "fields": ["codes"], "type": "best_fields"}}


def test_the_cheap_form_has_no_typos_and_a_scoped_count_needs_every_word() -> None:
    assert "fuzziness" not in json.dumps(_query('whale moby "x y" -z', fuzzy=False))
    every = _query("whale moby", fuzzy=False, every_word=True)
    assert every == {
        "multi_match": {"query": "whale moby", "fields": FIELDS.text, "type": "best_fields", "operator": "and"}
    }
    scoped = FieldQuery(SCHEMA, scope=({"terms": {"language": ["en"]}},))
    count = count_body(SearchParams(q="whale moby -sea"), 1000, scoped)
    assert count["query"]["bool"]["must"][0]["bool"]["must"][0]["multi_match"]["operator"] == "and"


def test_highlights_and_did_you_mean_follow_the_syntax() -> None:
    body = search_body(SearchParams(q='mobby "white whale" -captain'), 1000, fq=FieldQuery(SCHEMA))
    highlighted = json.dumps(body["highlight"])
    assert "captain" not in highlighted and "must_not" not in highlighted
    assert '"type": "phrase"' in highlighted
    assert "isbn" in body["highlight"]["fields"]  # a searched keyword field is highlighted too
    assert correction_body('mobby "white whale" -captain', 1000)["suggest"]["text"].split() == ["mobby"]
    assert "highlight" not in search_body(SearchParams(q="-captain"), 1000)


@given(st.text(st.one_of(st.sampled_from(' -"“*'), st.characters()), min_size=1, max_size=60))
def test_any_q_only_fills_values(q: str) -> None:
    for query in (_query(q), _query(q, fuzzy=False), positive_query(parse(q), FIELDS)):
        assert _keys(query) <= DSL_KEYS
        for clause in _clauses(query):
            fields = clause.get("fields", [])
            assert all(f in FIELDS.text for f in fields)
