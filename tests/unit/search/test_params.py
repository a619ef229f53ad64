from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from hermes.errors import BadRequestError
from hermes.search.models import SearchParams, SuggestParams
from hermes.search.params import parse_params


def _parse(query: list[tuple[str, str]]) -> SearchParams:
    return parse_params(SearchParams, MultiDict(query))


def test_defaults_and_repeatable_tags() -> None:
    p = _parse([("q", "x"), ("tag", "a"), ("tag", "b")])
    assert (p.size, p.from_, p.sort, p.tag) == (10, 0, "relevance", ["a", "b"])


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ([], "q"),
        ([("q", "")], "q"),
        ([("q", "x" * 257)], "q"),
        ([("q", "x"), ("size", "0")], "size"),
        ([("q", "x"), ("size", "101")], "size"),
        ([("q", "x"), ("size", "ten")], "size"),
        ([("q", "x"), ("from", "-1")], "from"),
        ([("q", "x"), ("from", "950"), ("size", "51")], "from"),
        ([("q", "x"), ("sort", "title!")], "sort"),  # sort=title: tests/unit/search/test_fields.py
        ([("q", "x"), ("updated_after", "last week")], "updated_after"),
        (
            [
                ("q", "x"),
                ("updated_after", "2026-02-01T00:00:00Z"),
                ("updated_before", "2026-01-01T00:00:00Z"),
            ],
            "updated_before",
        ),
        ([("q", "x"), ("q", "y")], "q"),
        ([("q", "x"), ("tag", "")], "tag"),
    ],
)
def test_every_bound_names_its_parameter(query: list[tuple[str, str]], parameter: str) -> None:
    with pytest.raises(BadRequestError) as info:
        _parse(query)
    assert info.value.parameter == parameter
    assert info.value.status == 400
    assert parameter in info.value.message


def test_window_edge_is_allowed() -> None:
    assert _parse([("q", "x"), ("from", "900"), ("size", "100")]).from_ == 900


def test_suggest_size_bounds() -> None:
    with pytest.raises(BadRequestError) as info:
        parse_params(SuggestParams, MultiDict([("q", "a"), ("size", "21")]))
    assert info.value.parameter == "size"
