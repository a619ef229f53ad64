"""The search service: runs built queries and maps Elasticsearch answers to API bodies."""

from __future__ import annotations

from typing import Any

from hermes.documents import is_live, public
from hermes.errors import NotFoundError
from hermes.search.models import Hit, SearchParams, SearchResponse, SuggestParams, SuggestResponse
from hermes.search.query import corrected, correction_body, count_body, search_body, suggest_body
from hermes.search.reader import Reader


def search(
    reader: Reader, index: str, params: SearchParams, timeout_ms: int, recency: str | None = None
) -> SearchResponse:
    """Run ``GET /search``; on zero hits, offer a corrected query that has hits."""
    response = to_search_response(params, reader.search(index, search_body(params, timeout_ms, recency)))
    if response["total"] == 0 and params.q.strip() != "*":
        correction = did_you_mean(reader, index, params, timeout_ms)
        if correction is not None:
            response["did_you_mean"] = correction
    return response


def did_you_mean(reader: Reader, index: str, params: SearchParams, timeout_ms: int) -> str | None:
    """A correction of ``params.q`` from Elasticsearch's term suggester, if it finds something with the
    same filters; two more requests, made only for searches that found nothing."""
    suggest = reader.search(index, correction_body(params.q, timeout_ms)).get("suggest", {})
    correction = corrected(params.q, suggest)
    if correction is None or correction.lower() == params.q.lower():
        return None
    found = reader.search(index, count_body(params.model_copy(update={"q": correction}), timeout_ms))
    return correction if found["hits"]["total"]["value"] > 0 else None


def to_search_response(params: SearchParams, body: dict[str, Any]) -> SearchResponse:
    """Map a ``_search`` answer to the contract's body (pure)."""
    total = body["hits"]["total"]
    buckets = body.get("aggregations", {}).get("tags", {}).get("buckets", [])
    return {
        "query": params.q,
        "total": total["value"],
        "total_relation": total["relation"],
        "took_ms": body["took"],
        "from": params.from_,
        "size": params.size,
        "hits": [_hit(h) for h in body["hits"]["hits"]],
        "facets": {"tags": [{"value": b["key"], "count": b["doc_count"]} for b in buckets]},
    }


def _hit(hit: dict[str, Any]) -> Hit:
    return {"id": hit["_id"], "score": hit.get("_score"), "document": public(hit["_source"]),
            "highlight": hit.get("highlight", {})}  # fmt: skip


def suggest(reader: Reader, index: str, params: SuggestParams, timeout_ms: int) -> SuggestResponse:
    """Run ``GET /suggest``."""
    hits = reader.search(index, suggest_body(params, timeout_ms))["hits"]["hits"]
    return {"suggestions": [{"id": h["_id"], "title": str(h["_source"].get("title", ""))} for h in hits]}


def get_document(reader: Reader, index: str, doc_id: str) -> dict[str, Any]:
    """Run ``GET /documents/<id>``; tombstones are not served."""
    found = reader.get(index, doc_id)
    source = found.get("_source", {}) if found else {}
    if not found or not is_live(source):
        msg = f"no document with id {doc_id!r}"
        raise NotFoundError(msg)
    return public(source)
