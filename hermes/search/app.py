"""The search function's HTTP surface: routing, CORS, caching headers, metrics.

``functions/search/main.py`` hands every request to :func:`handle_search`. Routing is
werkzeug's own ``Map`` (already loaded by Flask): path converters, automatic ``HEAD``,
``405`` with the allowed methods, and the rule template as the metrics label.

``GET /`` is the search playground, one static page (``playground.html``) over this API.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Request, Response
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, Map, Rule

from hermes.client import ElasticsearchStatusError, get_transport, translate
from hermes.config import get_settings
from hermes.errors import BadRequestError, MethodNotAllowedError, NotFoundError
from hermes.responses import error_response, guarded, health_response, json_response
from hermes.search import fields, service
from hermes.search.analytics import SearchEvent, found_nothing, normalise, start_recorder
from hermes.search.gate import CostGate
from hermes.search.keys import OPEN, KeyVerifier, SearchKey
from hermes.search.metrics import RequestMetrics
from hermes.search.params import parse_search, parse_suggest
from hermes.search.popular import NONE, PopularQueries
from hermes.search.ratelimit import RateLimiter, client_address
from hermes.search.reader import Reader
from hermes.search.readiness import Readiness
from hermes.search.served import ServedSchema
from hermes.search.served_rules import ServedRules

if TYPE_CHECKING:
    from hermes.schema import Schema
    from hermes.search.algolia_results import MultiQueryResponse
    from hermes.search.analytics import Recorder
    from hermes.search.models import SearchParams, SearchResponse
    from hermes.settings import Settings


class _DocumentId(BaseConverter):
    """Any id, slashes included, also a leading one (``/documents//abc`` is the id ``/abc``)."""

    regex = ".+"
    part_isolating = False


_READ = ["GET", "OPTIONS"]  # werkzeug adds HEAD to every GET rule
ROUTES = Map(
    [
        Rule("/", endpoint="playground", methods=_READ),
        Rule("/search", endpoint="search", methods=_READ),
        Rule("/suggest", endpoint="suggest", methods=_READ),
        Rule("/documents/<id:doc_id>", endpoint="document", methods=_READ),
        Rule("/health/live", endpoint="live", methods=_READ),
        Rule("/health/ready", endpoint="ready", methods=_READ),
        Rule("/openapi.json", endpoint="openapi", methods=_READ),
        Rule("/metrics", endpoint="metrics", methods=_READ),
        # Algolia's multi-query, for InstantSearch.js (hermes.search.instantsearch)
        Rule("/1/indexes/*/queries", endpoint="instantsearch", methods=["POST", "OPTIONS"]),
    ],
    merge_slashes=False,
    converters={"id": _DocumentId},
)
_MAX_ID_BYTES = 512  # Elasticsearch's _id limit


class SearchApp:
    """Routes of CONTRACT.md § The search function, over the search service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.readiness = Readiness(settings.ready_cache_s)
        self.schemas = ServedSchema(settings.schema_refresh_s)
        self.rules = ServedRules(settings.rules_refresh_s)
        self.popular = _popular(settings) if settings.suggest_queries else None
        self.counted = RequestMetrics()
        self.gate = CostGate(settings.costly_searches)
        self.keys = _verifier(settings)
        # Built only when something can be limited: `limits` costs ~30 ms of imports at a cold start.
        limited = settings.rate_limit is not None or settings.search_key_secret is not None
        self.limiter = RateLimiter() if limited else None
        self.analytics = _recorder(settings, self.counted) if settings.analytics else None
        self.origins = {o.strip() for o in settings.cors_origins.split(",") if o.strip()}
        self.urls = ROUTES.bind("hermes")
        self.endpoints: dict[str, Callable[..., Response]] = {
            "search": self.search,
            "suggest": self.suggest,
            "document": self.document,
            "live": self.live,
            "ready": self.ready,
            "openapi": self.openapi,
            "metrics": self.metrics,
            "playground": self.playground,
            "instantsearch": self.instantsearch,
        }

    def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        route, response = self._dispatch(request)
        self._cors(request, response)
        if not self.counted.observe(route, response.status_code, time.perf_counter() - started):
            response.call_on_close(self.counted.build_in_background)  # after this answer is sent
        return response

    def _dispatch(self, request: Request) -> tuple[str, Response]:
        """The metrics label (the rule template) and the answer."""
        try:
            rule, args = self._match(request)
        except NotFound:
            return "unknown", error_response(NotFoundError(f"no route {request.path}"))
        except MethodNotAllowed as exc:
            allow = ", ".join(sorted(exc.valid_methods or ()))
            err = MethodNotAllowedError(f"{request.method} is not allowed here")
            return "unknown", error_response(err, headers={"Allow": allow})
        if request.method == "OPTIONS":
            return rule.rule, Response(status=204, headers={"Allow": ", ".join(sorted(rule.methods or ()))})
        endpoint = self.endpoints[str(rule.endpoint)]
        return rule.rule, guarded(lambda: endpoint(request, **args), self.settings.retry_after_s, self._count_es_error)

    def _match(self, request: Request) -> tuple[Rule, Mapping[str, Any]]:
        try:
            return self.urls.match(request.path, method=request.method, return_rule=True)
        except NotFound:
            if len(request.path) > 1 and request.path.endswith("/"):  # /search/ is /search
                return self.urls.match(request.path.rstrip("/"), method=request.method, return_rule=True)
            raise

    def _count_es_error(self, kind: str) -> None:
        self.counted.update(lambda m: m.es_errors.labels(type=kind).inc())

    def _cors(self, request: Request, response: Response) -> None:
        if not self.origins:
            return
        if "*" not in self.origins:
            # The answer depends on Origin whether or not this one is allowed: shared caches must
            # not hand an allowed origin's answer to another, nor the reverse.
            response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if not origin:
            return
        if "*" in self.origins:
            response.headers["Access-Control-Allow-Origin"] = "*"
        elif origin in self.origins:
            response.headers["Access-Control-Allow-Origin"] = origin
        else:
            return
        # Algolia's clients may send their key in headers (authMode WithinHeaders); 429s carry Retry-After.
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", "GET, HEAD, OPTIONS")
            response.headers["Access-Control-Allow-Headers"] = (
                "Content-Type, Authorization, X-Algolia-API-Key, X-Algolia-Application-Id"
            )
            response.headers["Access-Control-Max-Age"] = "600"

    @staticmethod
    def reader() -> Reader:
        """A reader over the process's transport (built on the first request that needs it)."""
        return Reader(get_transport())

    def _cached(self, body: Any) -> Response:
        if self.keys is None:
            return json_response(body, headers={"Cache-Control": self.settings.cache_control})
        # Answers depend on the key: no shared cache may keep one for another caller.
        private = re.sub(r"\bpublic\b", "private", self.settings.cache_control)
        return json_response(body, headers={"Cache-Control": private, "Vary": "Authorization"})

    # --- endpoints -----------------------------------------------------------------------------

    def _key(
        self, request: Request, schema: Callable[[], Schema], authorization: str | None = None, searches: int = 1
    ) -> SearchKey:
        """The caller's search key (401 when one is required and bad), counted against its rate (429) once
        per search; ``authorization`` stands for the ``Authorization`` header when given."""
        if self.keys is None:
            if self.limiter is not None and self.settings.rate_limit is not None:
                forwarded = request.headers.get("X-Forwarded-For")
                for _ in range(searches):
                    addr = "addr:" + client_address(request.remote_addr, forwarded)
                    self.limiter.hit(addr, self.settings.rate_limit)
            return OPEN
        key = self.keys.verify(authorization or request.headers.get("Authorization"), schema)
        if key.rate is not None and self.limiter is not None:
            for _ in range(searches):
                self.limiter.hit(f"key:{key.caller}", key.rate)
        return key

    def search(self, request: Request) -> Response:
        settings, reader = self.settings, self.reader()
        key = self._key(request, lambda: self.schemas.get(reader, settings.es_index))
        params = parse_search(request.args)
        if key.max_size is not None and params.size > key.max_size:
            msg = f"size must be at most {key.max_size} with this search key"
            raise BadRequestError(msg, parameter="size")
        schema = self.schemas.get(reader, settings.es_index)
        scope = fields.scope_clauses(key.filter)
        fq = replace(fields.parse(schema, request.args, params.sort), scope=scope)
        run = functools.partial(
            service.search,
            reader,
            settings.es_index,
            params,
            settings.search_timeout_ms,
            recency=settings.recency,
            gate=self.gate,
            rules=self.rules.get(reader, settings.rules_index),
        )
        try:
            found = run(fq=fq)
        except ElasticsearchStatusError as exc:
            # A swap to an index where a declared field changed type, inside the refresh period: read
            # the served schema again and, if it changed, search once more with it (hermes.search.served).
            self.schemas.forget()
            fresh = self.schemas.get(reader, settings.es_index)
            if exc.status != 400 or fresh == schema:
                raise
            found = run(fq=replace(fields.parse(fresh, request.args, params.sort), scope=scope))
        self._observe(params, found, key)
        return self._cached(found)

    def _observe(self, params: SearchParams, found: SearchResponse, key: SearchKey) -> None:
        """A search done: counted when it found nothing (a search cut short by its timeout did not say so),
        recorded for analytics."""
        timed_out = found.get("timed_out", False)
        if found_nothing(found["total"], timed_out):
            self.counted.update(lambda m: m.zero_results.inc())
        if self.analytics is not None:
            event = SearchEvent(
                normalise(params.q), found["total"], found["took_ms"], datetime.now(UTC), key.sub, timed_out
            )
            self.analytics.record(event)

    def instantsearch(self, request: Request) -> Response:
        # Imported on the first multi-query, not at start-up: it reads Algolia's parameters with pydantic.
        from hermes.search.instantsearch import with_algolia_error  # noqa: PLC0415

        answer = guarded(lambda: self._instantsearch(request), self.settings.retry_after_s, self._count_es_error)
        return with_algolia_error(answer)

    def _instantsearch(self, request: Request) -> Response:
        from hermes.search import algolia  # noqa: PLC0415 - see instantsearch()
        from hermes.search.instantsearch import authorization, multi_query  # noqa: PLC0415

        settings, reader = self.settings, self.reader()
        requests = algolia.read_body(request.stream.read(algolia.MAX_BODY_BYTES + 1))
        served = functools.partial(self.schemas.get, reader, settings.es_index)
        key = self._key(request, served, authorization(request), len(requests))

        def search(params: SearchParams, fq: fields.FieldQuery) -> SearchResponse:
            timeout, recency = settings.search_timeout_ms, settings.recency
            rules = self.rules.get(reader, settings.rules_index)
            return service.search(
                reader,
                settings.es_index,
                params,
                timeout,
                recency=recency,
                fq=fq,
                gate=self.gate,
                rules=rules,
                correct=False,
            )

        done = multi_query(requests, key, settings.es_index, served=served, forget=self.schemas.forget, search=search)
        for one, (params, found, _) in zip(requests, done, strict=True):
            if one.params.analytics and one.params.hits_per_page:  # not InstantSearch's facet-only queries
                self._observe(params, found, key)
        results: MultiQueryResponse = {"results": [result for _, _, result in done]}
        vary = {"Vary": "Authorization"} if self.keys is not None else None
        return json_response(results, headers=vary)

    def suggest(self, request: Request) -> Response:
        settings, reader = self.settings, self.reader()
        key = self._key(request, lambda: self.schemas.get(reader, settings.es_index))
        params = parse_suggest(request.args)
        scope = fields.scope_clauses(key.filter)
        rules = self.rules.get(reader, settings.rules_index)
        # Past queries are everyone's: none for a key confined to some documents (hermes.search.popular).
        shared = self.popular is not None and not key.filter
        popular = self.popular.get(reader, settings.analytics_prefix) if self.popular and shared else NONE
        found = service.suggest(
            reader, settings.es_index, params, settings.search_timeout_ms, scope, rules=rules, popular=popular
        )
        return self._cached(found)

    def document(self, request: Request, doc_id: str) -> Response:
        reader = self.reader()
        key = self._key(request, lambda: self.schemas.get(reader, self.settings.es_index))
        if len(doc_id.encode("utf-8", "surrogatepass")) > _MAX_ID_BYTES:
            msg = f"no document with id {doc_id!r}"
            raise NotFoundError(msg)
        return self._cached(service.get_document(reader, self.settings.es_index, doc_id, key))

    def live(self, _: Request) -> Response:
        return health_response()

    def ready(self, _: Request) -> Response:
        problem = self.readiness.check(self.reader(), self.settings.es_index)
        return health_response(problem, self.settings.retry_after_s)

    def openapi(self, _: Request) -> Response:
        # Imported on the first /openapi.json, not at start-up: it builds pydantic's JSON schemas.
        from hermes.search.openapi import openapi_document  # noqa: PLC0415

        try:
            schema = self.schemas.get(self.reader(), self.settings.es_index)
        except Exception as exc:  # Elasticsearch unreachable: describe the last schema seen
            if translate(exc) is None:
                raise
            schema = self.schemas.cached()
        return json_response(openapi_document(schema, self.settings.es_index))

    def metrics(self, _: Request) -> Response:
        body, ctype = self.counted.collectors().render()
        return Response(body, 200, mimetype=None, content_type=ctype)

    def playground(self, _: Request) -> Response:
        page, csp = _playground()
        headers = {
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "public, max-age=300",
            "Referrer-Policy": "no-referrer",
        }
        return Response(page, 200, headers, mimetype=None, content_type="text/html; charset=utf-8")


_INLINE = re.compile(rb"<(script|style)>(.*?)</\1>", re.DOTALL)


@functools.cache
def _playground() -> tuple[bytes, str]:
    """The playground page and a CSP allowing exactly its inline script and style, by hash.

    Read on the first request, not at import: the search function's cold start stays as it was.
    """
    page = Path(__file__).with_name("playground.html").read_bytes()
    allowed: dict[bytes, list[str]] = {b"script": [], b"style": []}
    for tag, body in _INLINE.findall(page):
        allowed[tag].append(f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'")
    script, style = (" ".join(allowed[tag]) or "'none'" for tag in (b"script", b"style"))
    csp = (
        f"default-src 'self'; script-src {script}; style-src {style}; connect-src 'self'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return page, csp


def _recorder(settings: Settings, counted: RequestMetrics) -> Recorder:
    def lost(reason: str, count: int) -> None:
        counted.update(lambda m: m.analytics_lost.labels(reason=reason).inc(count))

    return start_recorder(
        get_transport(),
        settings.analytics_prefix,
        capacity=settings.analytics_queue,
        batch=settings.analytics_batch,
        flush_s=settings.analytics_flush_s,
        on_lost=lost,
    )


def _popular(settings: Settings) -> PopularQueries:
    return PopularQueries(
        settings.suggest_refresh_s,
        settings.suggest_window,
        settings.suggest_min_count,
        by_key=settings.search_key_secret is not None,
    )


_BUILDING = threading.Lock()


@functools.cache
def get_search_app() -> SearchApp:
    """The process's search app, built on first request, once: it may start the analytics thread, and
    ``functools.cache`` alone lets concurrent first requests each build one."""
    with _BUILDING:
        return _one_app()


@functools.cache
def _one_app() -> SearchApp:
    return SearchApp(get_settings())


def handle_search(request: Request) -> Response:
    """Entry point the search function delegates to."""
    return get_search_app()(request)


def _verifier(settings: Settings) -> KeyVerifier | None:
    """Keys are checked only when a signing secret is configured (CONTRACT.md § Search keys and limits)."""
    if settings.search_key_secret is None:
        return None
    given = (settings.search_key_secret, settings.search_key_previous_secret)
    return KeyVerifier([s.get_secret_value() for s in given if s is not None])
