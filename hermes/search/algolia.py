"""The part of Algolia's search protocol InstantSearch.js speaks: the multi-query body, read and checked (pure).

``POST /1/indexes/*/queries`` carries ``{"requests": [...]}``; each request names an index and its parameters
in one of the three forms the clients send (read in algoliasearch's own code, npm ``algoliasearch@5.65.1``,
``dist/lite/builds/browser.js`` ``search()`` and ``@algolia/client-common`` ``dist/common.js``
``serializeQueryParameters``; and the v4 client's ``multipleQueries``, which urlencodes them):

- v5 (``algoliasearch/lite`` ``liteClient``), given InstantSearch's ``[{indexName, params}]``: the parameters
  spread into the request itself, ``{"indexName": "books", "query": "whale", "hitsPerPage": 20, ...}``;
- v4: ``{"indexName": "books", "params": "query=whale&hitsPerPage=20&facets=%5B%22language%22%5D"}``, arrays
  JSON-encoded inside the urlencoded string;
- ``params`` as an object.

:mod:`hermes.search.algolia_filters` reads ``facetFilters`` and ``numericFilters``;
:mod:`hermes.search.instantsearch` maps all of it onto the search service.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from hermes.errors import BadRequestError

MAX_BODY_BYTES = 64 * 1024
MAX_REQUESTS = 16  # InstantSearch sends one, plus one per refined disjunctive facet
MAX_LIST = 50
MAX_HITS_PER_PAGE = 100
# Parameters that narrow or reshape the results in ways Hermes does not implement: answered with a 400
# rather than ignored, so a page never shows results that silently disregard one of its widgets.
UNSUPPORTED = (
    "filters",
    "tagFilters",
    "optionalFilters",
    "aroundLatLng",
    "aroundLatLngViaIP",
    "insideBoundingBox",
    "insidePolygon",
    "restrictSearchableAttributes",
    "facetQuery",
)


def _list(value: Any) -> Any:
    """A list parameter: a JSON array (also JSON-encoded in a string, as v4 sends), or comma-separated text."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                msg = "must be a JSON array or comma-separated text"
                raise ValueError(msg) from None
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _filters(value: Any) -> Any:
    """``facetFilters``/``numericFilters``: a JSON array (maybe in a string); plain text stays text."""
    if isinstance(value, str) and value.strip().startswith("["):
        return _list(value)
    return value


def _flag(value: Any) -> Any:
    return value.strip().lower() != "false" if isinstance(value, str) else value


Names = Annotated[list[Annotated[str, Field(max_length=256)]], BeforeValidator(_list), Field(max_length=MAX_LIST)]
_Filter = Annotated[str, Field(max_length=512)]
Filters = Annotated[
    Annotated[str, Field(max_length=4096)] | Annotated[list[_Filter | list[_Filter]], Field(max_length=MAX_LIST)],
    BeforeValidator(_filters),
]


class QueryParams(BaseModel):
    """One request's parameters: what InstantSearch sends and Hermes honours (docs/api.md § InstantSearch)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    query: str = Field("", max_length=256, description="Text typed; empty matches every document.")
    page: int = Field(0, ge=0, description="Page number, from 0.")
    hits_per_page: int = Field(
        20, ge=0, le=MAX_HITS_PER_PAGE, alias="hitsPerPage", description="Hits per page; 0: facets only."
    )
    facets: Names = Field(default_factory=list, description="Facet fields to count; `*`: every facet field.")
    facet_filters: Filters = Field(
        default_factory=list,
        alias="facetFilters",
        description="`field:value`, `field:-value` (not); an inner array is an OR of its filters.",
    )
    numeric_filters: Filters = Field(
        default_factory=list,
        alias="numericFilters",
        description="`field>=n` (`<`, `<=`, `=`, `!=`, `>=`, `>`) or `field:low TO high` on number fields.",
    )
    highlight_pre_tag: str = Field("<em>", max_length=100, alias="highlightPreTag")
    highlight_post_tag: str = Field("</em>", max_length=100, alias="highlightPostTag")
    attributes_to_highlight: Names | None = Field(None, alias="attributesToHighlight")
    attributes_to_retrieve: Names | None = Field(None, alias="attributesToRetrieve")
    analytics: Annotated[bool, BeforeValidator(_flag)] = Field(True, description="false: not recorded.")


@dataclass(frozen=True)
class AlgoliaRequest:
    """One query of a multi-query: its index, parameters and the parameter text echoed back as ``params``."""

    index: str
    params: QueryParams
    echo: str


def read_body(raw: bytes) -> list[AlgoliaRequest]:
    """The requests of a multi-query body (sent as ``text/plain`` by the clients: JSON all the same)."""
    if len(raw) > MAX_BODY_BYTES:
        msg = f"requests: the body is over {MAX_BODY_BYTES} bytes"
        raise BadRequestError(msg, parameter="requests")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests or len(requests) > MAX_REQUESTS:
        msg = f'requests: the body must be {{"requests": [...]}} with 1 to {MAX_REQUESTS} requests'
        raise BadRequestError(msg, parameter="requests")
    return [read_request(r, i) for i, r in enumerate(requests)]


def read_request(request: object, position: int = 0) -> AlgoliaRequest:
    """One entry of ``requests``; a 400 names the parameter at fault (and which request, after the first)."""
    where = f" (request {position})" if position else ""
    if not isinstance(request, dict) or not isinstance(request.get("indexName"), str):
        msg = f"indexName: every request names its index{where}"
        raise BadRequestError(msg, parameter="indexName")
    raw = {k: v for k, v in request.items() if k not in ("indexName", "params")}
    given = request.get("params")
    if isinstance(given, str):
        raw |= dict(parse_qsl(given, keep_blank_values=True))
    elif isinstance(given, dict):
        raw |= given
    elif given is not None:
        msg = f"params: must be urlencoded text or an object{where}"
        raise BadRequestError(msg, parameter="params")
    if raw.get("type", "default") != "default":
        msg = f"type: only hits are searched here, not facet values{where}"
        raise BadRequestError(msg, parameter="type")
    for name in UNSUPPORTED:
        if raw.get(name) not in (None, "", [], "[]"):
            msg = f"{name}: not supported by Hermes{where}"
            raise BadRequestError(msg, parameter=name)
    try:
        params = QueryParams.model_validate(raw)
    except ValidationError as exc:
        raise _bad_request(exc, where) from None
    echo = given if isinstance(given, str) else encode(raw)
    return AlgoliaRequest(request["indexName"], params, echo)


def encode(params: Mapping[str, Any]) -> str:
    """Parameters as the urlencoded text Algolia answers in ``params`` (arrays JSON-encoded, as v4 sends)."""
    pairs = [
        (k, v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
        for k, v in sorted(params.items())
        if v is not None
    ]
    return urlencode(pairs)


def _bad_request(exc: ValidationError, where: str) -> BadRequestError:
    err = exc.errors()[0]
    loc = err["loc"][0] if err["loc"] else None
    field = QueryParams.model_fields.get(str(loc)) if loc is not None else None
    name = (field.alias or str(loc)) if field is not None else str(loc)
    message = err["msg"].removeprefix("Value error, ")
    return BadRequestError(f"{name}: {message}{where}", parameter=name)
