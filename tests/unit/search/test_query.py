from __future__ import annotations

import json

from hermes.search.models import SearchParams, SuggestParams
from hermes.search.query import corrected, correction_body, count_body, search_body, suggest_body, words


def _params(**kw: object) -> SearchParams:
    return SearchParams.model_validate({"q": "paris", **kw})


def test_text_query_is_fuzzy_best_fields_with_title_boost() -> None:
    body = search_body(_params(), 1500)
    mm = body["query"]["bool"]["must"][0]["multi_match"]
    assert mm["type"] == "best_fields"
    assert mm["fuzziness"] == "AUTO"
    assert mm["fields"][0].startswith("title^")
    assert body["timeout"] == "1500ms"
    assert body["highlight"]["pre_tags"] == ["<mark>"]


def test_typo_tolerance_stops_at_six_words() -> None:
    six = search_body(_params(q="one two three four five six"), 1500)["query"]["bool"]["must"][0]["multi_match"]
    seven = search_body(_params(q="one two three four five six seven"), 1500)["query"]["bool"]["must"][0]
    assert six["fuzziness"] == "AUTO"
    assert "fuzziness" not in seven["multi_match"]  # pasted text: word for word, bounded cost


def test_star_matches_all_without_highlight() -> None:
    body = search_body(_params(q="*"), 1000)
    assert body["query"]["bool"]["must"] == [{"match_all": {}}]
    assert "highlight" not in body


def test_user_input_only_fills_values() -> None:
    hostile = "{script: {source: boom}} title:*"
    body = search_body(_params(q=hostile, tag=['"}, {"match_all": {}}']), 1000)
    assert body["query"]["bool"]["must"][0]["multi_match"]["query"] == hostile
    assert body["query"]["bool"]["filter"] == [{"term": {"tags": '"}, {"match_all": {}}'}}]
    assert body["highlight"]["highlight_query"]["multi_match"]["query"] == hostile
    assert "script" not in json.dumps({k: v for k, v in body.items() if k not in ("query", "highlight")})


def test_highlighting_expands_typos_only_in_core_text_and_only_within_budget() -> None:
    few = search_body(_params(q="lighthuose", size=10), 1000)["highlight"]
    assert "fuzziness" not in few["highlight_query"]["multi_match"]  # declared fields: as typed
    for name in ("title", "content"):
        assert few["fields"][name]["highlight_query"]["multi_match"]["fuzziness"] == "AUTO"
        assert few["fields"][name]["highlight_query"]["multi_match"]["fields"] == [name]
    # six misspelled words on 100 hits cost Elasticsearch 15-18 s when every expansion was highlighted
    worst = search_body(_params(q="rkqhrnaz fifwfuwzb spjukca scdsbaxjq jkfd yojoavpz", size=100), 1000)
    assert "fuzziness" not in json.dumps(worst["highlight"])
    hyphens = search_body(_params(q="rkqhrnaz-fifwfuwzb-spjukca-scdsbaxjq-jkfd-yojoavpz", size=20), 1000)
    assert "fuzziness" not in json.dumps(hyphens["highlight"])  # six terms to the analyzer, not one word


def test_words_are_counted_as_the_analyzer_splits_them() -> None:
    assert words("a-b-c d") == 4
    seven = search_body(_params(q="one-two-three-four-five-six-seven"), 1500)["query"]["bool"]["must"][0]
    assert "fuzziness" not in seven["multi_match"]


def test_filters_tags_and_dates_and_hides_tombstones() -> None:
    body = search_body(
        _params(tag=["a", "b"], updated_after="2026-01-01T00:00:00Z", updated_before="2026-02-01T00:00:00+01:00"),
        1000,
    )
    bool_q = body["query"]["bool"]
    assert {"term": {"tags": "a"}} in bool_q["filter"]
    assert {"term": {"tags": "b"}} in bool_q["filter"]
    assert {
        "range": {"updated_at": {"gte": "2026-01-01T00:00:00.000000Z", "lte": "2026-01-31T23:00:00.000000Z"}}
    } in bool_q["filter"]
    assert bool_q["must_not"] == [{"term": {"deleted": True}}]


def test_sorts_are_stable_with_an_id_tiebreak() -> None:
    for sort, first in (("relevance", "_score"), ("updated_at", "updated_at"), ("-updated_at", "updated_at")):
        order = search_body(_params(sort=sort), 1000)["sort"]
        assert next(iter(order[0])) == first
        assert order[-1] == {"id": "asc"}
    assert search_body(_params(sort="-updated_at"), 1000)["sort"][0] == {"updated_at": "desc"}


def test_suggest_uses_prefix_field_and_hides_tombstones() -> None:
    body = suggest_body(SuggestParams(q="par"), 500)
    assert body["query"]["bool"]["must"][0] == {"match_bool_prefix": {"title.prefix": {"query": "par"}}}
    assert body["size"] == 5


def _entry(text: str, offset: int, *options: tuple[str, float, int]) -> dict[str, object]:
    return {
        "text": text,
        "offset": offset,
        "length": len(text),
        "options": [{"text": o, "score": s, "freq": f} for o, s, f in options],
    }


def test_corrected_replaces_only_the_words_the_suggester_corrected() -> None:
    suggest = {
        "title": [_entry("lihgt", 4), _entry("huose", 10, ("house", 0.8, 3))],
        "content": [_entry("lihgt", 4, ("light", 0.8, 2)), _entry("huose", 10, ("horse", 0.8, 1))],
    }
    assert corrected("the lihgt huose!", suggest) == "the light house!"  # equal scores: the more frequent
    assert corrected("fine words", {"title": [_entry("fine", 0), _entry("words", 5)]}) is None


def test_correction_and_count_bodies() -> None:
    body = correction_body("cuazt", 1500)
    assert body["size"] == 0 and body["suggest"]["text"] == "cuazt"
    assert {f for f in body["suggest"] if f != "text"} == {"title", "content"}
    params = SearchParams.model_validate({"q": "coast", "tag": ["fr"]})
    count = count_body(params, 1500)
    assert count["query"] == search_body(params, 1500)["query"]  # the same filters, tombstones excluded
    assert count["size"] == 0 and "aggs" not in count and "highlight" not in count


def test_recency_decays_relevance_only() -> None:
    text = SearchParams.model_validate({"q": "lighthouse"})
    decayed = search_body(text, 1500, recency="30d")["query"]["bool"]["must"][0]["function_score"]
    assert decayed["query"] == search_body(text, 1500)["query"]["bool"]["must"][0]
    assert decayed["functions"] == [{"exp": {"updated_at": {"origin": "now", "scale": "30d", "decay": 0.5}}}]
    assert decayed["boost_mode"] == "multiply"
    for unchanged in ({"q": "*"}, {"q": "lighthouse", "sort": "-updated_at"}):
        params = SearchParams.model_validate(unchanged)
        assert search_body(params, 1500, recency="30d") == search_body(params, 1500)
