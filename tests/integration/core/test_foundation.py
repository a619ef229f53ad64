"""The foundation against a real Elasticsearch: client, mappings, versioned indices, alias swap."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from elasticsearch import helpers

from hermes.client import build_client
from hermes.load import indices
from hermes.load.mappings import MAPPING_VERSION
from hermes.search.models import SearchParams
from hermes.search.query import search_body

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

pytestmark = pytest.mark.integration

DOCS = [
    {"id": "1", "title": "Paris travel guide", "content": "cafés and museums", "tags": ["fr", "travel"]},
    {"id": "2", "title": "Cooking at home", "content": "a dish from Paris", "tags": ["fr-food"]},
    {"id": "3", "title": "Berlin nights", "content": "clubs", "tags": ["de"], "extra": {"deep": {"x": 1}}},
]


def _load(es: Elasticsearch, index: str) -> None:
    actions = ({"_index": index, "_id": d["id"], "_source": {**d, "deleted": False}} for d in DOCS)
    helpers.bulk(es, actions, refresh=True)


def _search(es: Elasticsearch, alias: str, **params: object) -> list[str]:
    body = search_body(SearchParams.model_validate(params), 5000)
    return [h["_id"] for h in es.search(index=alias, body=body)["hits"]["hits"]]


def test_client_from_settings_talks_to_the_server(make_settings, es_url: str) -> None:  # type: ignore[no-untyped-def]
    client = build_client(make_settings())
    health = client.cluster.health()
    assert health["number_of_nodes"] == 1
    nodes = client.nodes.info(node_id="_local", metric="_none")
    # The 8.x client speaks to 8.x natively and to 9.x in compatibility mode (README § Supported
    # Elasticsearch versions); `make test-matrix` runs this against both.
    assert next(iter(nodes["nodes"].values()))["version"].split(".")[0] in {"8", "9"}


def test_versioned_index_behind_alias_and_atomic_swap(es: Elasticsearch, alias: str) -> None:
    first = indices.new_index_name(alias, datetime(2026, 1, 1, tzinfo=UTC))
    second = indices.new_index_name(alias, datetime(2026, 1, 2, tzinfo=UTC))
    indices.create_index(es, first)
    assert indices.swap_alias(es, alias, first) == []
    assert indices.indices_behind(es, alias) == [first]

    indices.create_index(es, second, bulk=True)
    assert es.indices.get_settings(index=second)[second]["settings"]["index"]["refresh_interval"] == "-1"
    indices.finish_bulk(es, second)
    assert es.indices.get_settings(index=second)[second]["settings"]["index"]["refresh_interval"] == "1s"
    assert indices.swap_alias(es, alias, second) == [first]
    assert indices.indices_behind(es, alias) == [second]
    managed = indices.managed_indices(es, alias)
    assert set(managed) == {first, second}
    assert "retired_at" in managed[first]
    assert managed[second]["hermes_mapping_version"] == MAPPING_VERSION


def test_prune_keeps_the_newest_retired_and_respects_grace(es: Elasticsearch, alias: str) -> None:
    names = [indices.new_index_name(alias, datetime(2026, 1, d, tzinfo=UTC)) for d in (1, 2, 3, 4)]
    for name in names:
        indices.create_index(es, name)
        indices.swap_alias(es, alias, name)
    assert indices.prune(es, alias, keep=1, grace_s=3600) == []  # all retired just now
    later = datetime.now(UTC).replace(year=2100)
    assert indices.prune(es, alias, keep=1, grace_s=3600, now=later) == names[:2]
    assert set(indices.managed_indices(es, alias)) == set(names[2:])


def test_typo_finds_the_title_and_tags_are_exact(es: Elasticsearch, alias: str) -> None:
    index = indices.new_index_name(alias)
    indices.create_index(es, index)
    indices.swap_alias(es, alias, index)
    _load(es, index)
    assert _search(es, alias, q="pariss")[0] == "1"  # one-letter typo; title beats content
    assert _search(es, alias, q="*", tag=["fr"]) == ["1"]  # "fr" does not match "fr-food"
    assert _search(es, alias, q="*", tag=["fr", "travel"]) == ["1"]
    assert _search(es, alias, q="*", tag=["fr", "de"]) == []


def test_unknown_fields_are_stored_but_not_mapped(es: Elasticsearch, alias: str) -> None:
    index = indices.new_index_name(alias)
    indices.create_index(es, index)
    _load(es, index)
    props = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert "extra" not in props
    assert es.get(index=index, id="3")["_source"]["extra"] == {"deep": {"x": 1}}
