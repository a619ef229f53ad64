"""The search function's HTTP surface: routing, CORS, caching headers, metrics.

``functions/search/main.py`` hands every request to :func:`handle_search`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from flask import Request, Response

from hermes import search as service
from hermes.client import get_client
from hermes.errors import MethodNotAllowedError, NotFoundError
from hermes.http import error_response, guarded, json_response
from hermes.metrics import get_metrics
from hermes.models import SearchParams, SuggestParams
from hermes.openapi import openapi_document
from hermes.params import parse_params
from hermes.settings import Settings, get_settings

_DOC_PREFIX = "/documents/"


class SearchApp:
    """Routes of CONTRACT.md § The search function, over the search service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.readiness = service.Readiness(settings.ready_cache_s)
        self.origins = {o.strip() for o in settings.cors_origins.split(",") if o.strip()}
        self.routes: dict[str, Callable[[Request], Response]] = {
            "/search": self.search,
            "/suggest": self.suggest,
            "/health/live": self.live,
            "/health/ready": self.ready,
            "/openapi.json": self.openapi,
            "/metrics": self.metrics,
        }

    def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        path = request.path.rstrip("/") or "/"
        route = _DOC_PREFIX + "{id}" if path.startswith(_DOC_PREFIX) else path
        handler = self.routes.get(path) or (self.document if route != path else None)
        if request.method == "OPTIONS" and handler is not None:
            response = Response(status=204, headers={"Allow": "GET, HEAD, OPTIONS"})
        elif handler is None:
            route = "unknown"
            response = error_response(NotFoundError(f"no route {path}"))
        elif request.method not in ("GET", "HEAD"):
            response = error_response(MethodNotAllowedError(f"{request.method} is not allowed here"))
            response.headers["Allow"] = "GET, HEAD, OPTIONS"
        else:
            response = guarded(lambda: handler(request), self.settings.retry_after_s, _count_es_error)
        self._cors(request, response)
        get_metrics().observe(route, response.status_code, time.perf_counter() - started)
        return response

    def _cors(self, request: Request, response: Response) -> None:
        origin = request.headers.get("Origin")
        if not origin or not self.origins:
            return
        if "*" in self.origins:
            response.headers["Access-Control-Allow-Origin"] = "*"
        elif origin in self.origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        else:
            return
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
            response.headers["Access-Control-Max-Age"] = "600"

    def _cached(self, response: Response) -> Response:
        response.headers["Cache-Control"] = self.settings.cache_control
        return response

    # --- routes --------------------------------------------------------------------------------

    def search(self, request: Request) -> Response:
        params = parse_params(SearchParams, request.args)
        result = service.search(get_client(), self.settings.es_index, params, self.settings.search_timeout_ms)
        return self._cached(json_response(result.model_dump(by_alias=True)))

    def suggest(self, request: Request) -> Response:
        params = parse_params(SuggestParams, request.args)
        result = service.suggest(get_client(), self.settings.es_index, params, self.settings.search_timeout_ms)
        return self._cached(json_response(result.model_dump()))

    def document(self, request: Request) -> Response:
        doc_id = request.path[len(_DOC_PREFIX) :]
        if not doc_id or len(doc_id) > 512:
            msg = f"no document with id {doc_id!r}"
            raise NotFoundError(msg)
        return self._cached(json_response(service.get_document(get_client(), self.settings.es_index, doc_id)))

    def live(self, _: Request) -> Response:
        return json_response({"status": "ok"})

    def ready(self, _: Request) -> Response:
        problem = self.readiness.check(get_client(), self.settings.es_index)
        if problem is None:
            return json_response({"status": "ok"})
        headers = {"Retry-After": str(self.settings.retry_after_s)}
        return json_response({"status": "unavailable", "detail": problem}, 503, headers)

    def openapi(self, _: Request) -> Response:
        return json_response(openapi_document())

    def metrics(self, _: Request) -> Response:
        body, ctype = get_metrics().render()
        return Response(body, 200, mimetype=None, content_type=ctype)


def _count_es_error(kind: str) -> None:
    get_metrics().es_errors.labels(type=kind).inc()


@functools.cache
def get_search_app() -> SearchApp:
    """The process's search app, built on first request."""
    return SearchApp(get_settings())


def handle_search(request: Request) -> Response:
    """Entry point the search function delegates to."""
    return get_search_app()(request)
