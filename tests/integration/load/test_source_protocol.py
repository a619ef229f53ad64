"""How loads read the data source: pages, next links, deadlines, and errors that say where they failed.

The data source is the test server of tests/support/datasource.py serving whatever records a test puts there.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from hermes.client import build_client
from hermes.errors import SourceError
from hermes.load import indices
from hermes.load.full import full_load
from hermes.settings import Settings
from tests.support.datasource import SourceBehaviour, serve
from tests.support.loads import records, served_ids

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(make_settings: Any, source: tuple[str, SourceBehaviour]) -> Settings:
    return make_settings(DATA_SOURCE_URL=source[0], HERMES_PRUNE_GRACE_S=0)  # type: ignore[no-any-return]


@pytest.mark.parametrize("body", [b'{"next": null}', b'{"data": [], "next": null}', b'{"items": {}, "next": null}'])
def test_a_page_without_items_is_an_error_not_an_empty_source(
    es: Any, settings: Settings, source: Any, body: bytes
) -> None:
    src = source[1]
    src.put(*records(5))
    served = full_load(build_client(settings), settings)["index"]
    src.raw_body = body
    with pytest.raises(SourceError, match='no "items" array'):
        full_load(build_client(settings), settings, force=True)
    assert indices.indices_behind(es, settings.es_index) == [served]
    assert served_ids(es, settings.es_index) == {f"r{i}" for i in range(5)}


def test_next_links_stay_within_the_source_origin(make_settings: Any, source: Any) -> None:
    url, src = source
    with serve() as (other_url, other):
        other.put(*records(2))
        src.token = "s3cret"
        settings = make_settings(DATA_SOURCE_URL=url, DATA_SOURCE_TOKEN="s3cret")
        src.raw_body = json.dumps({"items": records(2), "next": other_url}).encode()
        with pytest.raises(SourceError, match="outside the origin"):
            full_load(build_client(settings), settings)
        assert other.requests == []  # the other host never saw the token, nor any request


def test_a_next_link_loop_stops(make_settings: Any, source: Any) -> None:
    url, src = source
    settings = make_settings(DATA_SOURCE_URL=url)
    src.raw_body = json.dumps({"items": records(2), "next": "?page=1"}).encode()
    with pytest.raises(SourceError, match="loop"):
        full_load(build_client(settings), settings)
    assert len(src.requests) == 2  # the first page and its one self-link, then it stops


def test_a_trickling_source_hits_the_deadline(make_settings: Any, source: Any) -> None:
    url, src = source
    settings = make_settings(DATA_SOURCE_URL=url, HERMES_SOURCE_DEADLINE_S=0.25, HERMES_SOURCE_RETRIES=0)
    src.put(*records(1))
    # ~130 bytes, a byte every 5 ms: ~0.7 s in all, past the 0.25 s deadline, each byte well within every read
    # timeout. The reader checks the deadline once per 64 KiB read, so it fails when the body ends.
    src.trickle_s = 0.005
    with pytest.raises(SourceError, match="HERMES_SOURCE_DEADLINE_S"):
        full_load(build_client(settings), settings)
    src.trickle_s = 0


def test_a_source_error_is_logged_with_its_cause(
    function_client: Any, make_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(DATA_SOURCE_URL="http://127.0.0.1:9/records", HERMES_SOURCE_RETRIES=0)
    client = function_client("full_load", settings)
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "dev.hermes.load.full",
        "ce-source": "t",
        "ce-id": "1",
        "Content-Type": "application/json",
    }
    with caplog.at_level(logging.WARNING, logger="hermes.responses"):
        assert client.post("/", data=b"{}", headers=headers).status_code == 502
    failed = [r for r in caplog.records if r.getMessage() == "request failed"]
    assert failed
    cause = str(failed[-1].__dict__.get("cause"))
    assert cause.startswith("ConnectionError")
    assert "127.0.0.1" in cause  # where it failed, not just that it did
