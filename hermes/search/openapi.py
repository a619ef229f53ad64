"""``/openapi.json``, generated from the parameter models, the body ``TypedDict``s the code uses and the
served index's schema (its declared fields' parameters)."""

from __future__ import annotations

import functools
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter

from hermes.bodies import ErrorBody, Health
from hermes.schema import EMPTY, Schema
from hermes.search.algolia import MAX_REQUESTS, QueryParams
from hermes.search.algolia_results import MultiQueryResponse
from hermes.search.fields import DEFAULT_RADIUS_KM, MAX_RADIUS_KM, MAX_VALUE_CHARS, MAX_VALUES, PUBLIC_CORE, sort_values
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
            "name": name,
            "in": "query",
            "required": name in required,
            "description": prop.pop("description", ""),
            "schema": prop,
        }
        if prop.get("type") == "array":
            param.update(style="form", explode=True)
        params.append(param)
    return params


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": _REF.format(model=ref)}}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Bad parameter", 404: "Not found", 503: "Elasticsearch unavailable", 504: "Elasticsearch timed out"}
    return {str(c): _json("ErrorBody", text[c]) for c in codes}


_VALUE_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_CHARS},
    "keyword": {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_CHARS},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "description": "RFC 3339 date-time with an offset, or YYYY-MM-DD"},
}


def declared_parameters(schema: Schema) -> list[dict[str, Any]]:
    """The parameters of the served schema's declared fields (CONTRACT.md § Fields)."""
    params: list[dict[str, Any]] = []
    for name, spec in schema.fields.items():
        if not spec.filter:
            continue
        params.append(
            {
                "name": f"filter.{name}",
                "in": "query",
                "required": False,
                "style": "form",
                "explode": True,
                "description": f"Repeatable; {spec.type} values of `{name}`, any matches.",
                "schema": {"type": "array", "maxItems": MAX_VALUES, "items": _VALUE_SCHEMAS[spec.type]},
            }
        )
        if spec.ranged:
            params.append(
                {
                    "name": f"range.{name}",
                    "in": "query",
                    "required": False,
                    "description": f"`<min>..<max>` of `{name}`, inclusive; either bound may be empty.",
                    "schema": {"type": "string", "pattern": "^.*\\.\\..*$", "maxLength": 600},
                }
            )
    if schema.geo_field:
        params.append(
            {
                "name": "near",
                "in": "query",
                "required": False,
                "description": f"`<lat>,<lon>`: only hits whose `{schema.geo_field}` is within `radius`.",
                "schema": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?,-?[0-9]+(\\.[0-9]+)?$"},
            }
        )
        params.append(
            {
                "name": "radius",
                "in": "query",
                "required": False,
                "description": "Kilometres (with `near`).",
                "schema": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_RADIUS_KM,
                    "default": DEFAULT_RADIUS_KM,
                },
            }
        )
    names = [*PUBLIC_CORE, *schema.fields]
    params.append(
        {
            "name": "fields",
            "in": "query",
            "required": False,
            "description": f"Comma-separated stored fields to return (plus `id`): {', '.join(names)}.",
            "schema": {"type": "string", "maxLength": 4096},
        }
    )
    return params


def openapi_document(schema: Schema = EMPTY, alias: str = "documents") -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route of the search function, for the served schema and alias."""
    return _document(orjson.dumps(schema.recorded(), option=orjson.OPT_SORT_KEYS).decode(), alias)


def _multi_query(schemas: dict[str, Any], alias: str) -> dict[str, Any]:
    """``POST /1/indexes/*/queries`` (docs/api.md § InstantSearch): Algolia's multi-query."""
    params = QueryParams.model_json_schema(by_alias=True, ref_template=_REF)
    schemas.update(params.pop("$defs", {}))
    schemas["AlgoliaQueryParams"] = params
    params_ref = {"$ref": _REF.format(model="AlgoliaQueryParams")}
    request = {
        "allOf": [params_ref],
        "type": "object",
        "required": ["indexName"],
        "properties": {
            "indexName": {"type": "string", "enum": [alias], "description": "The alias this deployment serves."},
            "params": {
                "description": "The parameters urlencoded (arrays as JSON), or as an object; or beside indexName.",
                "oneOf": [{"type": "string", "maxLength": 4096}, params_ref],
            },
        },
    }
    schemas["MultiQuery"] = {
        "type": "object",
        "required": ["requests"],
        "properties": {"requests": {"type": "array", "minItems": 1, "maxItems": MAX_REQUESTS, "items": request}},
    }
    schemas["AlgoliaErrorBody"] = {
        "allOf": [{"$ref": _REF.format(model="ErrorBody")}],
        "type": "object",
        "required": ["message", "status"],
        "properties": {"message": {"type": "string"}, "status": {"type": "integer"}},
        "description": "Hermes's error with Algolia's message and status beside it, which Algolia's clients show.",
    }
    body = {"schema": {"$ref": _REF.format(model="MultiQuery")}}
    errors = {"400": "Bad parameter", "503": "Elasticsearch unavailable", "504": "Elasticsearch timed out"}
    return {
        "post": {
            "summary": "Algolia's multi-query, for InstantSearch.js and algoliasearch/lite",
            "operationId": "algoliaMultiQuery",
            "requestBody": {"required": True, "content": {"text/plain": body, "application/json": body}},
            "responses": {
                "200": _json("MultiQueryResponse", "One result per request"),
                **{code: _json("AlgoliaErrorBody", text) for code, text in errors.items()},
            },
        }
    }


@functools.lru_cache(maxsize=8)
def _document(recorded: str, alias: str) -> dict[str, Any]:
    served = Schema.from_recorded(orjson.loads(recorded))
    schemas: dict[str, Any] = {}
    for body in (SearchResponse, SuggestResponse, Health, ErrorBody, MultiQueryResponse):
        schema = TypeAdapter(body).json_schema(by_alias=True, ref_template=_REF, mode="serialization")
        schemas.update(schema.pop("$defs", {}))
        schemas[body.__name__] = schema
    search_params = _parameters(SearchParams, schemas) + declared_parameters(served)
    for param in search_params:
        if param["name"] == "sort":
            param["schema"] = {"type": "string", "enum": sort_values(served), "default": "relevance"}
    suggest_params = _parameters(SuggestParams, schemas)
    doc_param = {"name": "doc_id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths = {
        "/": {
            "get": {
                "summary": "Search playground: an HTML page over this API",
                "operationId": "playground",
                "responses": {"200": {"description": "The page", "content": {"text/html": _TEXT}}},
            }
        },
        "/search": {
            "get": {
                "summary": "Ranked, typo-tolerant search",
                "operationId": "search",
                "parameters": search_params,
                "responses": {"200": _json("SearchResponse", "Results"), **_errors(400, 503, 504)},
            }
        },
        "/suggest": {
            "get": {
                "summary": "As-you-type title suggestions, and popular past queries when turned on",
                "operationId": "suggest",
                "parameters": suggest_params,
                "responses": {"200": _json("SuggestResponse", "Suggestions"), **_errors(400, 503, 504)},
            }
        },
        "/documents/{doc_id}": {
            "get": {
                "summary": "A stored document",
                "operationId": "getDocument",
                "parameters": [doc_param],
                "responses": {
                    "200": {
                        "description": "The document",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_errors(404, 503, 504),
                },
            }
        },
        "/health/live": {
            "get": {"summary": "Liveness", "operationId": "live", "responses": {"200": _json("Health", "Serving")}}
        },
        "/health/ready": {
            "get": {
                "summary": "Readiness",
                "operationId": "ready",
                "responses": {"200": _json("Health", "Ready"), "503": _json("Health", "Not ready")},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/1/indexes/*/queries": _multi_query(schemas, alias),
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "operationId": "metrics",
                "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": _TEXT}}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hermes search", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
