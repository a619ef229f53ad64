"""``POST /1/indexes/*/queries``: Algolia's multi-query, answered by the search service (docs/api.md § InstantSearch).

Each request becomes the same :class:`SearchParams` and :class:`FieldQuery` ``GET /search`` builds, so the query
syntax, rules, typo tolerance, facets and a key's filter are those of ``/search``; this module only translates
(:mod:`hermes.search.algolia` reads the body, :mod:`hermes.search.algolia_filters` the filters,
:mod:`hermes.search.algolia_results` writes the answer).

Errors keep Hermes's body and add Algolia's ``message`` and ``status``: the clients read ``message`` from the top
level (npm ``@algolia/client-common@5.65.1``, ``dist/common.js`` ``deserializeFailure``), so InstantSearch's
error shows what Hermes said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson
from flask import Request, Response
from werkzeug.datastructures import MultiDict

from hermes.client import ElasticsearchStatusError
from hermes.errors import BadRequestError
from hermes.schema import Schema
from hermes.search import algolia_filters, fields
from hermes.search.algolia import AlgoliaRequest
from hermes.search.algolia_filters import TAGS
from hermes.search.algolia_results import MAX_WINDOW, AlgoliaResult, result
from hermes.search.fields import FieldQuery
from hermes.search.keys import SearchKey
from hermes.search.models import SearchParams, SearchResponse
from hermes.search.params import parse_params

_RENAMED = {"q": "query", "size": "hitsPerPage", "from": "page", "tag": "facetFilters"}


@dataclass(frozen=True)
class Planned:
    """One request as a Hermes search, and what its answer needs."""

    params: SearchParams
    fq: FieldQuery
    facets: tuple[str, ...]
    highlight: tuple[str, ...]


def plan(schema: Schema, request: AlgoliaRequest, key: SearchKey, alias: str) -> Planned:
    """The search one request asks for; a 400 names the Algolia parameter at fault."""
    p = request.params
    if request.index != alias:
        msg = f"indexName: this deployment serves the index {alias!r}, not {request.index!r}"
        raise BadRequestError(msg, parameter="indexName")
    if key.max_size is not None and p.hits_per_page > key.max_size:
        msg = f"hitsPerPage must be at most {key.max_size} with this search key"
        raise BadRequestError(msg, parameter="hitsPerPage")
    if (p.page + 1) * p.hits_per_page > MAX_WINDOW:
        msg = f"page: (page + 1) x hitsPerPage must not exceed {MAX_WINDOW}"
        raise BadRequestError(msg, parameter="page")
    translated = algolia_filters.translate(schema, p.facet_filters, p.numeric_filters)
    params = _search_params(p.query, p.page, p.hits_per_page, translated.tags)
    retrieved = _retrieved(schema, p.attributes_to_retrieve)
    fq = FieldQuery(
        schema,
        filters=translated.filters,
        ranges=translated.ranges,
        fields=retrieved,
        scope=fields.scope_clauses(key.filter) + tuple(translated.clauses),
    )
    return Planned(params, fq, facet_names(schema, p.facets), highlighted(schema, p.attributes_to_highlight))


def _search_params(query: str, page: int, hits_per_page: int, tags: list[str]) -> SearchParams:
    args = MultiDict([("q", query.strip() or "*"), ("size", str(max(hits_per_page, 1)))])
    args.add("from", str(page * hits_per_page))
    for tag in tags:
        args.add("tag", tag)
    try:
        params = parse_params(SearchParams, args)
    except BadRequestError as exc:
        name = _RENAMED.get(exc.parameter or "", exc.parameter)
        message = exc.message.removeprefix(f"{exc.parameter}: ") if exc.parameter else exc.message
        msg = f"{name}: {message}"
        raise BadRequestError(msg, parameter=name) from None
    # hitsPerPage=0 (InstantSearch's facet-only queries): counts and facets, no hits
    return params if hits_per_page else params.model_copy(update={"size": 0, "from_": 0})


def _retrieved(schema: Schema, names: list[str] | None) -> tuple[str, ...] | None:
    if names is None or "*" in names:
        return None
    wanted = [n for n in names if n != "objectID"]
    try:
        return fields.parse(schema, MultiDict([("fields", ",".join(wanted or ["id"]))]), "relevance").fields
    except BadRequestError as exc:
        msg = "attributesToRetrieve: " + exc.message.removeprefix("fields: ")
        raise BadRequestError(msg, parameter="attributesToRetrieve") from None


def facet_names(schema: Schema, wanted: list[str]) -> tuple[str, ...]:
    """The facets asked for: ``tags`` and declared facet fields; ``*`` is every one of them."""
    every = (TAGS, *(name for name, spec in schema.fields.items() if spec.facet))
    if "*" in wanted:
        return every
    for name in wanted:
        if name not in every:
            msg = f"facets: {name!r} is not a facet field (facets: {', '.join(every)})"
            raise BadRequestError(msg, parameter="facets")
    return tuple(dict.fromkeys(wanted))


def highlighted(schema: Schema, wanted: list[str] | None) -> tuple[str, ...]:
    """The attributes highlighted: the searched text fields, or those of them asked for (others: never marked)."""
    searched = ("title", "content", *(name for name, spec in schema.fields.items() if spec.search))
    if wanted is None or "*" in wanted:
        return searched
    return tuple(name for name in dict.fromkeys(wanted) if name in searched)


Search = Callable[[SearchParams, FieldQuery], SearchResponse]


def multi_query(
    requests: list[AlgoliaRequest],
    key: SearchKey,
    alias: str,
    *,
    served: Callable[[], Schema],
    forget: Callable[[], None],
    search: Search,
) -> list[tuple[SearchParams, SearchResponse, AlgoliaResult]]:
    """Every request planned (each 400 before any search), then run by ``search``, in order.

    As for ``GET /search``: if Elasticsearch refuses a search because a declared field changed type in an index
    swapped in within the schema refresh period, the served schema is read again and, if it changed, every
    request is run once more with it.
    """
    schema = served()
    try:
        return _run(requests, key, alias, schema, search)
    except ElasticsearchStatusError as exc:
        forget()
        fresh = served()
        if exc.status != 400 or fresh == schema:
            raise
        return _run(requests, key, alias, fresh, search)


def _run(
    requests: list[AlgoliaRequest], key: SearchKey, alias: str, schema: Schema, search: Search
) -> list[tuple[SearchParams, SearchResponse, AlgoliaResult]]:
    plans = [plan(schema, one, key, alias) for one in requests]
    out = []
    for one, planned in zip(requests, plans, strict=True):
        found = search(planned.params, planned.fq)
        out.append((planned.params, found, answer(one, planned, found)))
    return out


def answer(request: AlgoliaRequest, planned: Planned, found: SearchResponse) -> AlgoliaResult:
    """One entry of ``results``."""
    p = request.params
    return result(
        found,
        page=p.page,
        hits_per_page=p.hits_per_page,
        query=p.query,
        echo=request.echo,
        index=request.index,
        facets=planned.facets,
        highlight=planned.highlight,
        tags=(p.highlight_pre_tag, p.highlight_post_tag),
    )


def authorization(request: Request) -> str | None:
    """The key of an Algolia client as an ``Authorization`` value: the ``X-Algolia-API-Key`` header, or the
    ``x-algolia-api-key`` query parameter the browser builds send (``authMode: WithinQueryParameters``); None when
    the request has an ``Authorization`` header (that one counts) or no key."""
    if request.headers.get("Authorization"):
        return None
    key = request.headers.get("X-Algolia-API-Key") or request.args.get("x-algolia-api-key")
    return f"Bearer {key.strip()}" if key and key.strip() else None


def with_algolia_error(response: Response) -> Response:
    """An error answer with Algolia's ``message`` and ``status`` beside Hermes's ``error``."""
    if response.status_code < 400 or response.mimetype != "application/json":
        return response
    body = orjson.loads(response.get_data())
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body |= {"message": body["error"].get("message", ""), "status": response.status_code}
        response.set_data(orjson.dumps(body))
    return response
