"""A Hermes search answer in Algolia's result shape: hits, highlights, facets, pages and errors (pure)."""

from __future__ import annotations

import orjson
from flask import Response
from hypothesis import assume, given
from hypothesis import strategies as st

from hermes.search.algolia_results import facet_counts, highlight, matched_tokens, query_words, result
from hermes.search.instantsearch import with_algolia_error
from hermes.search.models import SearchResponse

TAGS = ("<em>", "</em>")


def _found(total: int, hits: int = 0) -> SearchResponse:
    return {
        "query": "q",
        "total": total,
        "total_relation": "eq",
        "took_ms": 3,
        "from": 0,
        "size": 10,
        "hits": [
            {"id": f"d{i}", "score": 1.0, "document": {"id": f"d{i}", "title": "A whale"}, "highlight": {}}
            for i in range(hits)
        ],
        "facets": {"language": [{"value": "en", "count": 3}], "pages": {"min": 10.0, "max": 900.0}},
    }


def _answer(found: SearchResponse, page: int = 0, per_page: int = 10) -> dict[str, object]:
    return result(
        found,
        page=page,
        hits_per_page=per_page,
        query="whale",
        echo="query=whale",
        index="books",
        facets=("language", "pages"),
        highlight=("title",),
        tags=TAGS,
    )


def test_the_result_carries_what_instantsearch_reads() -> None:
    out = _answer(_found(25, hits=2))
    assert (out["nbHits"], out["nbPages"], out["page"], out["hitsPerPage"]) == (25, 3, 0, 10)
    assert out["facets"] == {"language": {"en": 3}, "pages": {}}
    assert out["facets_stats"] == {"pages": {"min": 10.0, "max": 900.0}}
    assert (out["processingTimeMS"], out["params"], out["index"], out["exhaustiveNbHits"]) == (
        3,
        "query=whale",
        "books",
        True,
    )
    hits = out["hits"]
    assert isinstance(hits, list)
    assert hits[0]["objectID"] == "d0"
    assert hits[0]["_highlightResult"]["title"] == {"value": "A whale", "matchLevel": "none", "matchedWords": []}


def test_pages_stop_at_the_window_and_facet_only_queries_have_none() -> None:
    assert _answer(_found(50_000), per_page=100)["nbPages"] == 10  # from + size <= 1000
    assert _answer(_found(50_000), per_page=0)["nbPages"] == 0


def test_facet_values_are_text_as_in_algolia() -> None:
    counts, stats = facet_counts(
        {
            "available": [{"value": True, "count": 2}],
            "n": [{"value": 3.0, "count": 1}],
            "d": {"min": "1900", "max": "2000"},
        },
        ["available", "n", "d", "absent"],
    )
    assert counts == {"available": {"true": 2}, "n": {"3": 1}, "d": {}}
    assert stats == {}  # dates: no numeric stats


def test_marked_words_are_read_from_escaped_fragments() -> None:
    fragments = ["the <mark>white</mark> <mark>whale</mark>", "a &lt;mark&gt; <mark>Captain&#39;s</mark>"]
    assert matched_tokens(fragments) == {"white", "whale", "captain's"}


def test_every_occurrence_of_a_marked_word_is_marked_in_the_whole_value() -> None:
    out = highlight("White whale, the whale <b>", {"whale", "white"}, ["white", "whale"], TAGS)
    assert out == {
        "value": "<em>White</em> <em>whale</em>, the <em>whale</em> <b>",  # stored text: InstantSearch escapes it
        "matchLevel": "full",
        "matchedWords": ["white", "whale"],
    }
    partial = highlight("The whaler", {"whaler"}, ["whale", "captain"], TAGS)
    assert (partial["value"], partial["matchLevel"], partial["matchedWords"]) == (
        "The <em>whaler</em>",
        "partial",
        ["whale"],
    )
    assert highlight("a whaleboat", {"whale"}, ["whale"], TAGS)["matchLevel"] == "none"  # whole words only


def test_a_typo_counts_as_the_word_it_corrects() -> None:
    assert highlight("Paris", {"paris"}, ["pariss"], TAGS)["matchedWords"] == ["pariss"]
    assert highlight("Rome", {"rome"}, ["paris"], TAGS)["matchLevel"] == "none"


def test_excluded_words_are_not_looked_for() -> None:
    assert query_words('white whale -captain -"sea monster" Whale') == ["white", "whale"]


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@given(_text, st.sets(st.from_regex(r"\w{1,6}", fullmatch=True), max_size=4))
def test_removing_the_tags_gives_the_stored_value_back(value: str, tokens: set[str]) -> None:
    pre, post = "\x00[", "]\x00"
    assume(pre not in value and post not in value)  # a value holding a tag itself cannot be told from a mark
    out = highlight(value, tokens, sorted(tokens), (pre, post))
    assert str(out["value"]).replace(pre, "").replace(post, "") == value
    assert out["matchLevel"] in ("none", "partial", "full")


def test_errors_carry_algolias_message_and_status_beside_hermess() -> None:
    body = {"error": {"type": "invalid_parameter", "message": "facets: no", "parameter": "facets"}}
    out = with_algolia_error(Response(orjson.dumps(body), 400, mimetype="application/json"))
    assert orjson.loads(out.get_data()) == {**body, "message": "facets: no", "status": 400}
    ok = Response(b'{"results": []}', 200, mimetype="application/json")
    assert with_algolia_error(ok).get_data() == b'{"results": []}'


def test_a_search_cut_short_by_its_timeout_is_not_exhaustive() -> None:
    found = _found(40, hits=2)
    assert _answer(found)["exhaustive"] == {"nbHits": True, "facetsCount": True}
    found["timed_out"] = True
    out = _answer(found)
    assert out["exhaustive"] == {"nbHits": False, "facetsCount": False}
    assert (out["exhaustiveNbHits"], out["exhaustiveFacetsCount"]) == (False, False)
