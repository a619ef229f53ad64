"""``/openapi.json``, generated from the parameter models and the body ``TypedDict``s the code uses."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, TypeAdapter

from hermes.errors import ErrorBody
from hermes.responses import Health
from hermes.search.models import SearchParams, SearchResponse, SuggestParams, SuggestResponse

_REF = "#/components/schemas/{model}"
_TEXT = {"schema": {"type": "string"}}


def _parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema["properties"].items():
        param: dict[str, Any] = {
            "name": name, "in": "query", "required": name in required,
            "description": prop.pop("description", ""), "schema": prop,
        }  # fmt: skip
        if prop.get("type") == "array":
            param.update(style="form", explode=True)
        params.append(param)
    return params


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=ref)}}}}  # fmt: skip


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Bad parameter", 404: "Not found", 503: "Elasticsearch unavailable",
            504: "Elasticsearch timed out"}  # fmt: skip
    return {str(c): _json("ErrorBody", text[c]) for c in codes}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route of the search function."""
    schemas: dict[str, Any] = {}
    for body in (SearchResponse, SuggestResponse, Health, ErrorBody):
        schema = TypeAdapter(body).json_schema(by_alias=True, ref_template=_REF, mode="serialization")
        schemas.update(schema.pop("$defs", {}))
        schemas[body.__name__] = schema
    search_params = _parameters(SearchParams, schemas)
    suggest_params = _parameters(SuggestParams, schemas)
    doc_param = {"name": "doc_id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths = {
        "/": {"get": {"summary": "Search playground: an HTML page over this API", "operationId": "playground",
                      "responses": {"200": {"description": "The page", "content": {"text/html": _TEXT}}}}},
        "/search": {"get": {"summary": "Ranked, typo-tolerant search", "operationId": "search",
                            "parameters": search_params,
                            "responses": {"200": _json("SearchResponse", "Results"),
                                          **_errors(400, 503, 504)}}},
        "/suggest": {"get": {"summary": "As-you-type title suggestions", "operationId": "suggest",
                             "parameters": suggest_params,
                             "responses": {"200": _json("SuggestResponse", "Suggestions"),
                                           **_errors(400, 503, 504)}}},
        "/documents/{doc_id}": {"get": {"summary": "A stored document", "operationId": "getDocument",
                                    "parameters": [doc_param],
                                    "responses": {"200": {"description": "The document", "content": {
                                        "application/json": {"schema": {"type": "object"}}}},
                                        **_errors(404, 503, 504)}}},
        "/health/live": {"get": {"summary": "Liveness", "operationId": "live",
                                 "responses": {"200": _json("Health", "Serving")}}},
        "/health/ready": {"get": {"summary": "Readiness", "operationId": "ready",
                                  "responses": {"200": _json("Health", "Ready"),
                                                "503": _json("Health", "Not ready")}}},
        "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                  "responses": {"200": {"description": "OpenAPI 3.1", "content": {
                                      "application/json": {"schema": {"type": "object"}}}}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "operationId": "metrics",
                             "responses": {"200": {"description": "Prometheus text format",
                                                   "content": {"text/plain": _TEXT}}}}},
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hermes search", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
