"""A `_search` answer mapped to the contract's body: a search cut short by its timeout says so (pure)."""

from __future__ import annotations

from typing import Any

from hermes.search.models import SearchParams
from hermes.search.service import to_search_response


def _answer(*, timed_out: bool) -> dict[str, Any]:
    hit = {
        "_id": "1",
        "_score": 1.5,
        "_source": {"id": "1", "title": "Paris"},
        "highlight": {"title": ["<mark>Paris</mark>"]},
    }
    return {"took": 12, "timed_out": timed_out, "hits": {"total": {"value": 1, "relation": "eq"}, "hits": [hit]}}


def test_a_search_cut_short_by_its_timeout_answers_what_it_found_and_says_so() -> None:
    out = to_search_response(SearchParams(q="paris"), _answer(timed_out=True))
    assert out["timed_out"] is True
    assert [h["id"] for h in out["hits"]] == ["1"]  # the hits found before the timeout are still served


def test_a_complete_search_has_no_timed_out_flag() -> None:
    out = to_search_response(SearchParams(q="paris"), _answer(timed_out=False))
    assert "timed_out" not in out
    assert out["total"] == 1
