"""The search function's HTTP boundary: framework errors are JSON, CORS answers vary on Origin, unknown
parameters are ignored (``app`` comes from tests/unit/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from hermes.search.models import SearchParams
from hermes.search.params import parse_params
from tests.support.responses import json_error as _json_error


@pytest.mark.parametrize("path", ["/favicon.ico", "/robots.txt", "/search%0A", "/documents/a%0Ab"])
def test_framework_errors_are_json(app: Any, path: str) -> None:
    resp = app("search").get(path)
    assert resp.status_code in (400, 404)
    assert _json_error(resp, resp.status_code)["type"] in ("invalid_request", "not_found")


def test_cors_answers_vary_on_origin_even_when_the_origin_is_refused(app: Any) -> None:
    client = app("search", HERMES_CORS_ORIGINS="https://a.example")
    refused = client.get("/health/live", headers={"Origin": "https://evil.example"})
    assert "Origin" in refused.headers.get("Vary", "")
    assert "Access-Control-Allow-Origin" not in refused.headers
    allowed = client.get("/health/live", headers={"Origin": "https://a.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert "Origin" in allowed.headers["Vary"]


def test_unknown_parameters_are_ignored_even_repeated_and_from_is_only_from() -> None:
    params = parse_params(SearchParams, MultiDict([("q", "x"), ("utm", "a"), ("utm", "b"), ("from_", "7")]))
    assert params.from_ == 0
