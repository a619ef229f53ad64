"""The benchmark's generated source speaks the partition protocol, in NDJSON and in JSON pages."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from bench.source_server import Handler, remove_cache

COUNT = 2_345


@pytest.fixture(scope="module")
def bench_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/records/n={COUNT}"
    finally:
        server.shutdown()
        server.server_close()
        remove_cache()


def _ndjson(url: str) -> list[str]:
    with requests.get(url, timeout=30) as resp:
        assert resp.status_code == 200
        return [json.loads(line)["id"] for line in resp.text.splitlines() if line]


def _pages(url: str) -> tuple[list[str], list[str]]:
    ids, links = [], []
    while url:
        with requests.get(url, timeout=30) as resp:
            page = resp.json()
        ids += [r["id"] for r in page["items"]]
        links += [page["next"]] if page["next"] else []
        url = urljoin(url, page["next"]) if page["next"] else ""
    return ids, links


def test_every_record_is_in_exactly_one_partition_in_both_body_forms(bench_url: str) -> None:
    whole = _ndjson(bench_url)
    assert len(whole) == COUNT
    for count in (1, 2, 4):
        lines = [_ndjson(f"{bench_url}?partition={i}&partitions={count}") for i in range(count)]
        pages = [_pages(f"{bench_url}/page=500?partition={i}&partitions={count}")[0] for i in range(count)]
        assert lines == pages
        assert sorted(r for part in lines for r in part) == sorted(whole)
        assert all(part for part in lines)


def test_pages_hold_the_page_size_and_next_keeps_the_partition(bench_url: str) -> None:
    ids, links = _pages(f"{bench_url}/page=300?partition=1&partitions=2")
    assert len(links) == -(-len(ids) // 300) - 1
    for link in links:
        query = parse_qs(urlsplit(link).query)
        assert (query["partition"], query["partitions"]) == (["1"], ["2"])
    assert _pages(f"{bench_url}/page=300")[0] == _ndjson(bench_url)


def test_a_bad_partition_query_answers_400(bench_url: str) -> None:
    with requests.get(f"{bench_url}?partition=2", timeout=10) as resp:
        assert resp.status_code == 400
