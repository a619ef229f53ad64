"""Fuzzing every search route from its own /openapi.json (schemathesis), thousands of cases."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from tests.integration.search.test_openapi_fuzz import api_schema, search_url  # noqa: F401 - fixtures
from tests.resilience.kit import FULL

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.skipif(not FULL, reason="make resilience only: make test fuzzes 60 cases a route (tests/integration)")
def test_fuzzing_every_search_route_finds_no_5xx(api_schema: Any, evidence: Any) -> None:  # noqa: F811
    """Fuzzing every search route from /openapi.json: zero 5xx, every answer as documented

    schemathesis generates requests for each operation of the running search function's own OpenAPI
    document (the library demo's declared fields included); each answer must be no 5xx, a documented
    status, and match its documented schema.
    """
    per_route = 1000  # routes without parameters have one distinct request: hypothesis stops there
    counts: dict[str, int] = {}
    for result in api_schema.get_all_operations():
        _fuzz(result.ok(), per_route, counts)
    evidence(
        f"{sum(counts.values()):,} generated requests over {len(counts)} operations, no check failed: "
        + ", ".join(f"{label} {n:,}" for label, n in sorted(counts.items()))
    )
    assert sum(counts.values()) >= 3000


def _fuzz(operation: Any, examples: int, counts: dict[str, int]) -> None:
    """Run ``examples`` generated cases of one operation, counting them under its label."""

    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        counts[operation.label] = counts.get(operation.label, 0) + 1
        case.call_and_validate(checks=[not_a_server_error, response_schema_conformance, status_code_conformance])

    check()
