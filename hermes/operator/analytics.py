"""The analytics report (``python -m hermes analytics``): top queries and top zero-result queries.

The search function records the events (``hermes.search.analytics``) into ``<prefix>-<YYYY.MM>``; this
module only reads them back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


def report(client: Elasticsearch, prefix: str, since: str, size: int = 20) -> dict[str, Any]:
    """Top queries and top zero-result queries since ``since`` (``7d``, ``12h``; Elasticsearch date math)."""
    top = {"terms": {"field": "query", "size": size}}
    found = client.options(ignore_status=404).search(
        index=f"{prefix}-*",
        size=0,
        query={"range": {"at": {"gte": f"now-{since}"}}},
        track_total_hits=True,
        aggs={"top": top, "zero": {"filter": {"term": {"zero": True}}, "aggs": {"top": top}}},
    )
    if found.meta.status == 404 or "aggregations" not in found.body:
        return _empty(since)
    aggs = found.body["aggregations"]
    return {
        "since": since,
        "searches": found.body["hits"]["total"]["value"],
        "zero_result_searches": aggs["zero"]["doc_count"],
        "top_queries": _counts(aggs["top"]),
        "top_zero_result_queries": _counts(aggs["zero"]["top"]),
    }


def _empty(since: str) -> dict[str, Any]:
    return {"since": since, "searches": 0, "zero_result_searches": 0, "top_queries": [], "top_zero_result_queries": []}


def _counts(agg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"query": b["key"], "count": b["doc_count"]} for b in agg["buckets"]]
