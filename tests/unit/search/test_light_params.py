"""The light reader of the search parameters agrees with the pydantic models it is derived from.

``hermes.search.params.parse_search`` tries the light reader first and asks the model when it is
unsure. Whatever the query string, it must answer as ``parse_params(SearchParams, …)`` does: the same
values, or a 400 naming the same parameter with the same message. The parameters tried come from the
model's own specs (``hermes/search/specs.py``), valid and invalid alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from hermes.errors import BadRequestError
from hermes.search import specs
from hermes.search.models import SearchParams, SuggestParams
from hermes.search.params import _light, parse_params, parse_search, parse_suggest
from tests.support.examples import examples

_VALUES = st.one_of(
    st.integers(-5, 1200).map(str),
    st.sampled_from(["", " 5", "5.0", "1_000", "05", "-0", "+3", "١٢", "x\n", "relevance", "-updated_at", "Title"]),
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-02-01T00:00:00+01:00", "last week", "*", "paris", "a" * 256]),
    st.sampled_from(["a" * 257, "\ud800", "é", "-a_b", "a" * 65]),
    st.text(max_size=12),
)
_NAMES = st.sampled_from([*sorted(specs.SEARCH_PARAMS_VARIABLES), "from_", "utm", "Q"])


def _query(names: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Mostly a valid ``q`` first, then any parameters, small numbers more often than not."""
    head = st.lists(st.tuples(st.just("q"), st.sampled_from(["paris", "*", "a"])), min_size=0, max_size=1)
    value = st.one_of(st.integers(0, 120).map(str), _VALUES)
    return st.builds(lambda h, rest: h + rest, head, st.lists(st.tuples(names, value), max_size=4))


def _outcome(parse: Callable[[], Any], fields: list[str]) -> tuple[str, Any]:
    try:
        params = parse()
    except BadRequestError as exc:
        return "error", (exc.parameter, exc.message)
    return "ok", {name: getattr(params, name) for name in fields}


_SEARCH_FIELDS = list(SearchParams.model_fields)


@settings(max_examples=examples(1500), deadline=None)
@given(_query(_NAMES))
@example([("q", "x"), ("from", "950"), ("size", "51")])
@example([("q", "x"), ("size", "51"), ("from", "950")])
@example([("q", "x"), ("tag", "a"), ("tag", "b")])
@example([("q", "x"), ("tag", "")])
@example([("q", "x"), ("q", "y")])
@example([("q", "x"), ("sort", "-a_b")])
def test_search_parameters_read_light_are_what_the_model_reads(query: list[tuple[str, str]]) -> None:
    args = MultiDict(query)
    light = _outcome(lambda: parse_search(args), _SEARCH_FIELDS)
    model = _outcome(lambda: parse_params(SearchParams, args), _SEARCH_FIELDS)
    assert light == model
    if model[0] == "error":  # the light reader itself never vouches for what the model refuses
        assert _light(specs.SEARCH_PARAMS, args) is None


@settings(max_examples=examples(500), deadline=None)
@given(_query(st.sampled_from(["q", "size", "tag", "utm"])))
def test_suggest_parameters_read_light_are_what_the_model_reads(query: list[tuple[str, str]]) -> None:
    args = MultiDict(query)
    fields = list(SuggestParams.model_fields)
    assert _outcome(lambda: parse_suggest(args), fields) == _outcome(lambda: parse_params(SuggestParams, args), fields)


@pytest.mark.parametrize(
    "query",
    [
        [("q", "alpha")],
        [("q", "kilo"), ("size", "20"), ("from", "40"), ("tag", "fr"), ("tag", "en"), ("sort", "-updated_at")],
        [("q", "*"), ("utm_source", "mail")],
    ],
)
def test_everyday_searches_are_read_without_the_model(query: list[tuple[str, str]]) -> None:
    values = _light(specs.SEARCH_PARAMS, MultiDict(query))
    assert values is not None
    assert values == dict(parse_params(SearchParams, MultiDict(query)))


def test_a_light_search_can_be_copied_with_another_query() -> None:
    """``service.search`` asks again with the corrected query through ``model_copy``."""
    light = parse_search(MultiDict([("q", "pariss"), ("size", "3")]))
    model = parse_params(SearchParams, MultiDict([("q", "pariss"), ("size", "3")]))
    assert light.model_copy(update={"q": "paris"}).q == model.model_copy(update={"q": "paris"}).q == "paris"
    assert light.model_copy(update={"q": "paris"}).size == 3


def test_every_field_of_the_parameter_models_has_a_spec() -> None:
    assert [s.name for s in specs.SEARCH_PARAMS] == list(SearchParams.model_fields)
    assert [s.name for s in specs.SUGGEST_PARAMS] == list(SuggestParams.model_fields)
