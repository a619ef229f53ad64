"""Relevance rules: parsing and validation, matching a query, and what they do to a search body (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from hermes.errors import InvalidRuleError
from hermes.search import curation
from hermes.search.models import SearchParams
from hermes.search.query import count_body, search_body
from hermes.search.rules import (
    MAX_PINS,
    MAX_RULES,
    MAX_VARIANTS,
    Curation,
    OneWay,
    RuleSet,
    Synonyms,
    check_set,
    parse_rule,
    parse_stored,
    to_json,
)

TV = {"id": "tv", "type": "synonyms", "terms": ["TV", "television"]}
SNEAKERS = {"id": "sneakers", "type": "one_way", "from": "sneakers", "to": ["trainers", "running shoes"]}
WHALE = {"id": "whale", "type": "curate", "query": "White  Whale", "pin": ["b", "a"], "hide": ["c"]}


def test_each_kind_round_trips_through_its_json_form() -> None:
    for raw in (TV, SNEAKERS, WHALE):
        rule = parse_rule(raw)
        assert parse_rule(to_json(rule)) == rule
    assert parse_rule(SNEAKERS) == OneWay("sneakers", "sneakers", ("trainers", "running shoes"))


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"type": "synonyms", "terms": ["a", "b"]}, "rule id None"),
        ({**TV, "id": "has space"}, "rule id 'has space'"),
        ({**TV, "id": "x" * 129}, "rule id"),
        ({**TV, "type": "regex"}, "type must be one of"),
        ({**TV, "extra": 1}, "unknown field 'extra'"),
        ({**TV, "terms": ["tv"]}, "terms must be a list of 2 to 20"),
        ({**TV, "terms": [f"t{i}" for i in range(21)]}, "terms must be a list of 2 to 20"),
        ({**TV, "terms": ["tv", "TV"]}, "repeats a term"),
        ({**TV, "terms": ["tv", "x" * 101]}, "1-100 characters"),
        ({**TV, "terms": ["tv", "!!"]}, "at least one letter or digit"),
        ({**TV, "terms": ["tv", '"big"']}, "no '\"'"),
        ({**TV, "terms": ["tv", "-big"]}, "no leading '-'"),
        ({**SNEAKERS, "to": ["Sneakers"]}, "to must not repeat from"),
        ({**WHALE, "pin": [], "hide": []}, "needs pin or hide"),
        ({**WHALE, "pin": ["a"], "hide": ["a"]}, "'a' is both pinned and hidden"),
        ({**WHALE, "pin": [f"d{i}" for i in range(MAX_PINS + 1)]}, f"at most {MAX_PINS} document ids"),
        ({**WHALE, "pin": ["x" * 513]}, "1-512 bytes"),
        ({**WHALE, "pin": ["a", "a"]}, "pin repeats an id"),
        ({**WHALE, "query": "   "}, "query must be text"),
        ({**WHALE, "query": "q" * 257}, "1-256 characters"),
    ],
)
def test_a_bad_rule_is_refused_naming_it_and_its_field(raw: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidRuleError, match=None) as caught:
        parse_rule(raw)
    assert says in caught.value.message


def test_a_set_has_unique_ids_one_curation_per_query_and_a_bounded_size() -> None:
    with pytest.raises(InvalidRuleError, match="appears twice"):
        check_set([parse_rule(TV), parse_rule(TV)])
    other = parse_rule({**WHALE, "id": "other", "query": "white whale"})
    with pytest.raises(InvalidRuleError, match="rule whale already curates the query 'white whale'"):
        check_set([parse_rule(WHALE), other])
    many = [Synonyms(f"r{i}", ("a", "b")) for i in range(MAX_RULES + 1)]
    with pytest.raises(InvalidRuleError, match=f"at most {MAX_RULES}"):
        check_set(many)


def test_a_curation_matches_the_normalised_query_and_punctuation_counts() -> None:
    rules = RuleSet((parse_rule(WHALE),))
    assert rules.match("  WHITE whale ").pin == ("b", "a")
    assert rules.match("white whale").hide == ("c",)
    assert not rules.match('"white whale"')
    assert not rules.match("white whales")


def test_synonyms_make_variants_of_whole_words_both_ways_and_one_way_one_way() -> None:
    rules = RuleSet((parse_rule(TV), parse_rule(SNEAKERS)))
    assert rules.match("cheap TV stand").variants == ("cheap television stand",)
    assert rules.match("television").variants == ("tv",)
    assert rules.match("red sneakers").variants == ("red trainers", "red running shoes")
    assert not rules.match("trainers")
    assert not rules.match("tvs")  # whole words only
    assert rules.match("tv and sneakers").variants == (
        "television and sneakers",
        "tv and trainers",
        "tv and running shoes",
    )


def test_a_multi_word_term_matches_its_words_in_order_and_punctuation_inside_words_is_ignored() -> None:
    rules = RuleSet((Synonyms("shoes", ("running shoes", "wi-fi shoes")),))
    assert rules.match("best running shoes").variants == ("best wi-fi shoes",)
    assert rules.match("wi fi shoes").variants == ("running shoes",)
    assert not rules.match("shoes running")


def test_an_excluded_term_is_left_alone() -> None:
    rules = RuleSet((parse_rule(TV),))
    assert not rules.match("stand -tv")
    assert not rules.match('stand -"old tv"')
    assert rules.match("tv -stand").variants == ("television -stand",)
    assert rules.match("smart-tv").variants == ("smart-television",)  # a hyphen inside a word excludes nothing


def test_variants_are_bounded() -> None:
    rules = RuleSet((Synonyms("many", tuple(f"w{i}" for i in range(20))),))
    assert len(rules.match("w0 w1").variants) == MAX_VARIANTS


def test_stored_documents_that_are_not_rules_are_skipped_and_reported() -> None:
    rules, problems = parse_stored([TV, {"id": "x", "type": "nope"}, "junk"])
    assert [r.id for r in rules.rules] == ["tv"]
    assert len(problems) == 2


# --- what the rules do to the search body ---------------------------------------------------------------


def _matched(q: str, *raw: dict[str, Any]) -> Any:
    return RuleSet(tuple(parse_rule(r) for r in raw)).match(q)


def test_synonyms_or_the_text_of_each_variant_under_the_same_filters() -> None:
    params = SearchParams(q="tv", tag=["sale"])
    body = search_body(params, 1000, rules=_matched("tv", TV))
    query = body["query"]["bool"]
    assert query["minimum_should_match"] == 1
    assert query["filter"] == [{"term": {"tags": "sale"}}]
    texts = [s["bool"]["must"][0]["multi_match"]["query"] for s in query["should"]]
    assert texts == ["tv", "television"]
    highlighted = body["highlight"]["highlight_query"]["bool"]["should"]
    assert [h["multi_match"]["query"] for h in highlighted] == ["tv", "television"]


def test_pins_score_far_above_text_in_order_and_stay_under_the_filters() -> None:
    params = SearchParams(q="white whale", tag=["novel"])
    body = search_body(params, 1000, rules=_matched("white whale", WHALE))
    query = body["query"]["bool"]
    assert query["filter"] == [{"term": {"tags": "novel"}}]
    pins = [s["constant_score"] for s in query["should"][1:]]
    assert [(p["filter"]["ids"]["values"], p["boost"]) for p in pins] == [
        (["b"], 2 * curation.PIN_STEP),
        (["a"], curation.PIN_STEP),
    ]
    assert {"ids": {"values": ["c"]}} in query["must_not"]


def test_another_sort_keeps_hides_and_drops_pins() -> None:
    params = SearchParams(q="white whale", sort="-updated_at")
    body = search_body(params, 1000, rules=_matched("white whale", WHALE))
    assert "constant_score" not in str(body["query"])
    assert {"ids": {"values": ["c"]}} in body["query"]["bool"]["must_not"]


def test_the_count_behind_did_you_mean_keeps_hides_and_synonyms_not_pins() -> None:
    rules = _matched("white whale", WHALE, {**TV, "terms": ["white", "ivory"]})
    body = count_body(SearchParams(q="white whale"), 1000, rules=rules)
    assert "constant_score" not in str(body)
    assert "ivory whale" in str(body)
    assert {"ids": {"values": ["c"]}} in body["query"]["bool"]["must_not"]


def test_no_rule_leaves_the_body_as_it_was() -> None:
    params = SearchParams(q="anything")
    assert search_body(params, 1000, rules=_matched("anything", TV, WHALE)) == search_body(params, 1000)


def test_a_curation_alone_is_a_curation() -> None:
    assert RuleSet((Curation("c", "q", ("a",)),)).match("Q").pin == ("a",)
