"""Fixtures shared by the integration tests (the real Elasticsearch comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.datasource import SourceBehaviour, serve


@pytest.fixture
def source() -> Iterator[tuple[str, SourceBehaviour]]:
    """A test data source on loopback (array bodies); yields its URL and its behaviour to mutate."""
    with serve() as served:
        yield served
