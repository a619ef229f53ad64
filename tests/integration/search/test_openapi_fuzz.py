"""Property test of the running search function against its own /openapi.json (schemathesis).

Every generated request must get no 5xx and a response matching the documented schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from hermes.search.app import ROUTES
from tests.integration.search.test_declared_fields import BOOKS, SCHEMA
from tests.support.examples import examples
from tests.support.site import search_site

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def search_url(es_url: str) -> Iterator[str]:
    from hermes.settings import Settings

    # The library demo: its declared fields add filter., range., near, radius and sorts to the API.
    conf = Settings(ES_URL=es_url, ES_INDEX="fuzz", DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA=SCHEMA)  # type: ignore[call-arg]
    with search_site(conf) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(search_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{search_url}/openapi.json")


def test_no_5xx_and_responses_match_the_schema(api_schema: Any) -> None:
    # schemathesis' pytest plugin does not support pytest 9 yet: drive each operation's
    # hypothesis strategy directly instead.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 6  # schemathesis leaves out /openapi.json itself
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=examples(60), deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance, status_code_conformance])

        check()


def test_declared_fields_are_fuzzed(api_schema: Any) -> None:
    names = {p["name"] for p in api_schema.raw_schema["paths"]["/search"]["get"]["parameters"]}
    assert {"filter.authors", "range.published", "near", "radius"} <= names


def test_schema_covers_every_route(api_schema: Any) -> None:
    # The routes the app really dispatches (its werkzeug Map), in OpenAPI's template syntax.
    rules = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in ROUTES.iter_rules()}
    assert set(api_schema.raw_schema["paths"]) == rules
