"""Request parameters and response bodies of the search API.

Parameters are pydantic models: they validate requests and generate the parameters of
``/openapi.json``. Response bodies are ``TypedDict``s: the service builds plain dicts
(no model is built per hit: it showed in the per-request profile), mypy checks them
against these classes, and ``/openapi.json`` takes their schemas from the same classes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from typing_extensions import TypedDict

from hermes.search import checks
from hermes.search.checks import EXPLAIN_MAX_SIZE, MAX_WINDOW
from hermes.timestamps import parse_rfc3339

__all__ = ["EXPLAIN_MAX_SIZE", "MAX_WINDOW", "SearchParams", "SuggestParams"]

Timestamp = Annotated[datetime, BeforeValidator(parse_rfc3339)]


class SearchParams(BaseModel):
    """Query-string parameters of ``GET /search``."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)  # by name: SearchParams(q=..., from_=...) in code

    q: str = Field(
        min_length=1,
        max_length=256,
        description='Query text; `*` matches all. `"two words"`: a phrase (no typos); `-word`, `-"two words"`: '
        "exclude documents containing it; a quote left open runs to the end; only exclusions: everything else.",
    )
    size: int = Field(10, ge=1, le=100, description="Hits per page.")
    from_: int = Field(0, ge=0, alias="from", description="Offset of the first hit.")
    tag: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=20, description="Repeatable; every tag must match."
    )
    updated_after: Timestamp | None = Field(None, description="RFC 3339; inclusive lower bound.")
    updated_before: Timestamp | None = Field(None, description="RFC 3339; inclusive upper bound.")
    sort: str = Field(
        "relevance",
        pattern=r"^-?[a-z][a-z0-9_]{0,63}$",
        description="Order of hits: `relevance`, `updated_at`, `-updated_at`, a declared sort field "
        "(`-` first: descending) or `distance` (with `near`).",
    )

    explain: bool = Field(
        False,
        description=f"Per hit, why it scored as it did (`explanation`); with `size` at most {EXPLAIN_MAX_SIZE}.",
    )

    _explain = field_validator("explain")(checks.explain_bounded)
    _window = field_validator("from_")(checks.window)
    _range = field_validator("updated_before")(checks.ordered)


class SuggestParams(BaseModel):
    """Query-string parameters of ``GET /suggest``."""

    model_config = ConfigDict(frozen=True)

    q: str = Field(min_length=1, max_length=256, description="What the user typed so far.")
    size: int = Field(5, ge=1, le=20, description="Number of suggestions.")


class ScoredMatch(TypedDict):
    """A word or phrase that scored in one field of a hit (``explain=true``)."""

    field: str
    text: str
    score: float


class ExplanationNode(TypedDict):
    """One step of Elasticsearch's score computation, trimmed."""

    value: float
    description: str
    details: NotRequired[list[ExplanationNode]]


class Explanation(TypedDict):
    """Why a hit scored as it did: what matched where, and the outline of the computation."""

    score: float
    matches: list[ScoredMatch]
    details: ExplanationNode


class Hit(TypedDict):
    """One result: the stored document (tombstone flag removed) and its highlights."""

    id: str
    score: float | None
    document: dict[str, Any]
    highlight: dict[str, list[str]]
    # With sort=distance: kilometres from `near`.
    distance_km: NotRequired[float]
    # With explain=true.
    explanation: NotRequired[Explanation]


class FacetValue(TypedDict):
    """One bucket of a keyword or boolean facet."""

    value: str | bool
    count: int


class FacetRange(TypedDict):
    """The facet of a number or date field: its smallest and largest value (dates in RFC 3339)."""

    min: float | str | None
    max: float | str | None


# Functional form: ``from`` is a Python keyword.
SearchResponse = TypedDict(
    "SearchResponse",
    {
        "query": str,
        "total": int,
        "total_relation": Literal["eq", "gte"],
        "took_ms": int,
        "from": int,
        "size": int,
        "hits": list[Hit],
        "facets": dict[str, list[FacetValue] | FacetRange],
        # Only on zero hits, and only when the corrected query has hits.
        "did_you_mean": NotRequired[str],
        # Only when Elasticsearch stopped at the search's server-side timeout: the hits are those found by then.
        "timed_out": NotRequired[Literal[True]],
    },
)


class Suggestion(TypedDict):
    """One as-you-type suggestion."""

    id: str
    title: str


class QuerySuggestion(TypedDict):
    """A popular past query completing what was typed (``HERMES_SUGGEST_QUERIES``)."""

    query: str


class SuggestResponse(TypedDict):
    """``GET /suggest``: title completions, and popular past queries (empty unless turned on)."""

    suggestions: list[Suggestion]
    queries: list[QuerySuggestion]
