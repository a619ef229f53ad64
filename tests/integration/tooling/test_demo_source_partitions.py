"""The demo source over HTTP: partitions read page by page, and a fanned-out load of it equals a single one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from scripts.demo_source import FIRST_VERSION, serve, stamp

COUNT = 2_500  # three pages of 1,000 for one partition


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    records = {
        f"city-{n}": {"id": f"city-{n}", "updated_at": stamp(FIRST_VERSION), "title": f"town {n}"} for n in range(COUNT)
    }
    server = serve(0, records)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/records"
    finally:
        server.shutdown()
        server.server_close()


def _read(url: str) -> tuple[list[str], list[str]]:
    """Every id of the listing at ``url``, following ``next``; and the ``next`` links seen."""
    ids, links = [], []
    while url:
        with requests.get(url, timeout=10) as resp:
            page = resp.json()
        ids += [r["id"] for r in page["items"]]
        if page["next"]:
            links.append(page["next"])
            url = urljoin(url, page["next"])
        else:
            url = ""
    return ids, links


def test_the_partitions_of_the_listing_hold_every_record_once(demo_url: str) -> None:
    whole, _ = _read(demo_url)
    assert len(whole) == COUNT
    for count in (2, 4):
        parts = [_read(f"{demo_url}?partition={i}&partitions={count}")[0] for i in range(count)]
        flat = [rid for part in parts for rid in part]
        assert sorted(flat) == sorted(whole)
        assert all(part for part in parts)


def test_next_links_keep_the_partition_and_since(demo_url: str) -> None:
    ids, links = _read(f"{demo_url}?since={stamp(FIRST_VERSION)}&partition=0&partitions=2")
    assert len(ids) > 1_000  # more than one page, so there were links to follow
    assert links
    for link in links:
        query = parse_qs(urlsplit(link).query)
        assert query["partition"] == ["0"]
        assert query["partitions"] == ["2"]
        assert query["since"] == [stamp(FIRST_VERSION)]


def test_a_bad_partition_query_answers_400_naming_it(demo_url: str) -> None:
    with requests.get(f"{demo_url}?partition=4&partitions=4", timeout=10) as resp:
        assert resp.status_code == 400
        assert "partition" in resp.json()["error"]["message"]


def test_a_load_fanned_out_over_four_partitions_equals_a_load_of_one(
    demo_url: str, make_settings: Any, es: Any
) -> None:
    from hermes.load.full import full_load

    single = full_load(es, make_settings(DATA_SOURCE_URL=demo_url, HERMES_LOAD_PARTITIONS=1), force=True)
    first = _documents(es, make_settings().es_index)
    fanned = full_load(es, make_settings(DATA_SOURCE_URL=demo_url, HERMES_LOAD_PARTITIONS=4), force=True)
    assert single["status"] == fanned["status"] == "completed"
    assert _documents(es, make_settings().es_index) == first
    assert len(first) == COUNT


def _documents(es: Any, alias: str) -> dict[str, str]:
    from elasticsearch import helpers

    return {
        hit["_id"]: hit["_source"]["title"] for hit in helpers.scan(es, index=alias, query={"query": {"match_all": {}}})
    }
