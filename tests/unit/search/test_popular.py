"""Query suggestions from the analytics: counting, the minimum, and completing a prefix (pure)."""

from __future__ import annotations

from hermes.search.popular import Popular, aggregation, counted

COUNTS = {"the hobbit": 9, "the trial": 4, "theatre": 7, "hobbit": 12, "the hobbit movie": 4}


def test_completes_a_prefix_most_popular_first() -> None:
    popular = Popular.of(COUNTS)
    assert popular.complete("The", 5) == ["the hobbit", "theatre", "the hobbit movie", "the trial"]
    assert popular.complete("the ", 2) == ["the hobbit", "the hobbit movie"]  # a trailing space: a next word
    assert popular.complete("  THE   hob", 5) == ["the hobbit", "the hobbit movie"]
    assert popular.complete("x", 5) == []
    assert popular.complete(" ", 5) == []


def test_counts_distinct_keys_or_searches_and_keeps_those_at_the_minimum() -> None:
    answer = {
        "aggregations": {
            "queries": {
                "buckets": [
                    {"key": "dune", "doc_count": 9, "callers": {"value": 1}},
                    {"key": "emma", "doc_count": 3, "callers": {"value": 3}},
                ]
            }
        }
    }
    assert counted(answer, 3, by_key=True) == {"emma": 3}
    assert counted(answer, 3, by_key=False) == {"dune": 9, "emma": 3}
    assert counted({}, 3, by_key=False) == {}


def test_the_count_reads_only_searches_that_found_something_in_the_window() -> None:
    body = aggregation("30d", 5, by_key=True)
    filters = body["query"]["bool"]["filter"]
    assert {"range": {"total": {"gt": 0}}} in filters
    assert {"range": {"at": {"gte": "now-30d"}}} in filters
    assert body["aggs"]["queries"]["terms"]["min_doc_count"] == 5
    assert body["aggs"]["queries"]["aggs"] == {"callers": {"cardinality": {"field": "key"}}}
    assert "aggs" not in aggregation("30d", 5, by_key=False)["aggs"]["queries"]
