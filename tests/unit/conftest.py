"""Fixtures of the unit tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def app(function_client: Any) -> Any:
    """``app(name, **env)``: a function whose Elasticsearch and data source do not exist; requests that must
    never reach them prove it."""

    def build(name: str, **env: str) -> Any:
        defaults = {
            "ES_URL": "http://127.0.0.1:9",
            "DATA_SOURCE_URL": "file:///nonexistent.json",
            "HERMES_MAX_EVENT_BYTES": "4096",
        }
        return function_client(name, **{**defaults, **env})

    return build
