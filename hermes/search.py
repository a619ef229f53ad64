"""The search service: runs built queries and maps Elasticsearch answers to API bodies."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hermes.errors import NotFoundError, UnavailableError
from hermes.models import (
    FacetValue,
    Hit,
    SearchParams,
    SearchResponse,
    Suggestion,
    SuggestParams,
    SuggestResponse,
)
from hermes.query import search_body, suggest_body

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


def search(client: Elasticsearch, index: str, params: SearchParams, timeout_ms: int) -> SearchResponse:
    """Run ``GET /search``."""
    resp = client.search(index=index, body=search_body(params, timeout_ms))
    return to_search_response(params, resp.body)


def to_search_response(params: SearchParams, body: dict[str, Any]) -> SearchResponse:
    """Map a ``_search`` answer to the contract's body (pure)."""
    total = body["hits"]["total"]
    buckets = body.get("aggregations", {}).get("tags", {}).get("buckets", [])
    return SearchResponse(
        query=params.q,
        total=total["value"],
        total_relation=total["relation"],
        took_ms=body["took"],
        from_=params.from_,
        size=params.size,
        hits=[
            Hit(
                id=h["_id"],
                score=h.get("_score"),
                document=_public(h["_source"]),
                highlight=h.get("highlight", {}),
            )
            for h in body["hits"]["hits"]
        ],
        facets={"tags": [FacetValue(value=b["key"], count=b["doc_count"]) for b in buckets]},
    )


def _public(source: dict[str, Any]) -> dict[str, Any]:
    """The stored document as users see it (the tombstone flag is internal)."""
    return {k: v for k, v in source.items() if k != "deleted"}


def suggest(client: Elasticsearch, index: str, params: SuggestParams, timeout_ms: int) -> SuggestResponse:
    """Run ``GET /suggest``."""
    resp = client.search(index=index, body=suggest_body(params, timeout_ms))
    return SuggestResponse(
        suggestions=[Suggestion(id=h["_id"], title=str(h["_source"].get("title", ""))) for h in resp["hits"]["hits"]]
    )


def get_document(client: Elasticsearch, index: str, doc_id: str) -> dict[str, Any]:
    """Run ``GET /documents/<id>``; tombstones are not served."""
    resp = client.options(ignore_status=404).get(index=index, id=doc_id)
    if resp.meta.status == 404:
        if resp.body.get("error", {}).get("type") == "index_not_found_exception":
            msg = f"index {index} does not exist yet"
            raise UnavailableError(msg)
        msg = f"no document with id {doc_id!r}"
        raise NotFoundError(msg)
    source = resp["_source"]
    if source.get("deleted"):
        msg = f"no document with id {doc_id!r}"
        raise NotFoundError(msg)
    return _public(source)


class Readiness:
    """``/health/ready``: Elasticsearch answers and the alias exists; cached briefly."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._checked = -float("inf")
        self._result: str | None = None

    def check(self, client: Elasticsearch, alias: str) -> str | None:
        """None when ready, else the reason it is not."""
        now = time.monotonic()
        if now - self._checked < self.ttl_s:
            return self._result
        self._result = self._probe(client, alias)
        self._checked = now
        return self._result

    @staticmethod
    def _probe(client: Elasticsearch, alias: str) -> str | None:
        from elastic_transport import TransportError  # noqa: PLC0415
        from elasticsearch import ApiError  # noqa: PLC0415

        try:
            exists = client.indices.exists_alias(name=alias)
        except TransportError as exc:
            return f"Elasticsearch unreachable ({type(exc).__name__})"
        except ApiError as exc:
            return f"Elasticsearch answered {exc.meta.status}"
        return None if exists else f"alias {alias} does not exist yet"
