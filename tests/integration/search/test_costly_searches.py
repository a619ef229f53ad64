"""Costly searches share a few slots per instance: without one, a search still answers, word for word."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hermes.client import build_client, build_transport
from hermes.load.full import full_load
from hermes.search import service
from hermes.search.gate import CostGate
from hermes.search.models import SearchParams
from hermes.search.reader import Reader
from tests.support.corpus import corpus, write_ndjson
from tests.support.settings import settings_with

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reader_and_index(
    es_url: str, module_alias: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Reader, str]]:
    """The corpus, loaded once for the module: its tests only search it."""
    source = write_ndjson(tmp_path_factory.mktemp("corpus") / "c.ndjson", corpus())
    settings = settings_with(ES_URL=es_url, ES_INDEX=module_alias, DATA_SOURCE_URL=source)
    full_load(build_client(settings), settings)
    transport = build_transport(settings)
    yield Reader(transport), settings.es_index
    transport.close()


def _search(reader_and_index: tuple[Reader, str], q: str, gate: CostGate) -> Any:
    reader, index = reader_and_index
    return service.search(reader, index, SearchParams.model_validate({"q": q}), 1500, gate=gate)


def test_a_typo_in_three_words_is_forgiven_while_a_slot_is_free(reader_and_index: Any) -> None:
    found = _search(reader_and_index, "lighthuose keepers brittany", CostGate(1))
    assert found["hits"][0]["id"] == "title-hit"
    assert "<mark>" in found["hits"][0]["highlight"]["title"][0]


def test_with_every_slot_taken_the_words_are_matched_as_typed(reader_and_index: Any) -> None:
    gate = CostGate(1)
    with gate.costly() as held:
        assert held
        typo = _search(reader_and_index, "lighthuose kepers britany", gate)
        typed = _search(reader_and_index, "lighthouse keepers brittany", gate)
        nothing = _search(reader_and_index, "cuazt wqlkz zzqqxxjj", gate)
    assert typo["total"] == 0  # no typo tolerance without a slot...
    assert typed["hits"][0]["id"] == "title-hit"  # ...but the words as typed still match
    assert "did_you_mean" not in nothing  # and no correction is looked up
    assert _search(reader_and_index, "cuazt wqlkz", gate)["did_you_mean"] == "coast walks"  # slot free again


def test_one_or_two_words_never_wait_for_a_slot(reader_and_index: Any) -> None:
    gate = CostGate(1)
    with gate.costly():
        assert _search(reader_and_index, "lighthuose", gate)["hits"][0]["id"] == "title-hit"
