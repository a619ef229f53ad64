"""The search function's transport (``hermes.node.HttpClientNode`` over ``http.client``) against the real
Elasticsearch: every kind of read the search function makes, its answers the same as the full client's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from elasticsearch import helpers

from hermes.client import ElasticsearchStatusError, build_transport
from hermes.load import indices
from hermes.node import HttpClientNode
from hermes.search.models import SearchParams
from hermes.search.query import search_body
from hermes.search.reader import Reader

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

pytestmark = pytest.mark.integration

DOCS = [
    {"id": "1", "title": "Paris travel guide", "content": "cafés and museums", "tags": ["fr"]},
    {"id": "a/b c", "title": "Berlin nights", "content": "clubs in Paris", "tags": ["de"]},
]
UPDATED = "2026-01-01T00:00:00Z"


@pytest.fixture
def reader(make_settings: Any) -> Iterator[Reader]:
    transport = build_transport(make_settings())
    yield Reader(transport)
    transport.close()


@pytest.fixture
def loaded(es: Elasticsearch, alias: str) -> str:
    index = indices.new_index_name(alias)
    indices.create_index(es, index)
    actions = (
        {"_index": index, "_id": d["id"], "_source": {**d, "updated_at": UPDATED, "deleted": False}} for d in DOCS
    )
    helpers.bulk(es, actions, refresh=True)
    indices.swap_alias(es, alias, index)
    return index


def test_the_transport_talks_through_the_http_client_node(reader: Reader) -> None:
    assert [type(node) for node in reader.transport.node_pool.all()] == [HttpClientNode]


def test_searches_and_reads_answer_as_the_full_client_does(
    reader: Reader, es: Elasticsearch, alias: str, loaded: str
) -> None:
    body = search_body(SearchParams(q="paris"), 5000)
    found = reader.search(alias, body)
    assert found["hits"]["hits"] == es.search(index=alias, body=body)["hits"]["hits"]
    assert {hit["_id"] for hit in found["hits"]["hits"]} == {"1", "a/b c"}
    assert reader.get(alias, "a/b c") == dict(es.get(index=alias, id="a/b c"))
    assert reader.get(alias, "missing") is None
    assert reader.alias_exists(alias)
    assert not reader.alias_exists(f"{alias}-none")
    assert reader.mapping_meta(alias) == {loaded: es.indices.get_mapping(index=loaded)[loaded]["mappings"]["_meta"]}
    assert reader.mapping_meta(f"{alias}-none") == {}


def test_an_error_answer_keeps_its_status_and_body(reader: Reader, alias: str, loaded: str) -> None:
    with pytest.raises(ElasticsearchStatusError) as raised:
        reader.search(alias, {"query": {"no_such_query": {}}})
    assert raised.value.status == 400
    assert raised.value.body["error"]["type"] == "parsing_exception"  # type: ignore[index]
    assert reader.search(alias, {"size": 0})["hits"]["total"]["value"] == len(DOCS)  # the connection still works


def test_concurrent_searches_share_the_node(reader: Reader, alias: str, loaded: str) -> None:
    body = search_body(SearchParams(q="paris"), 5000)
    totals: list[int] = []

    def search() -> None:
        totals.extend(reader.search(alias, body)["hits"]["total"]["value"] for _ in range(20))

    threads = [threading.Thread(target=search) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert totals == [len(DOCS)] * 120
