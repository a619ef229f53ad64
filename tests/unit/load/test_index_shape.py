"""HERMES_INDEX_SHARDS and HERMES_INDEX_REPLICAS → the settings of a new data index, building and served."""

from __future__ import annotations

import pytest

from hermes.errors import ConfigurationError
from hermes.load.mappings import BULK_SETTINGS, IndexShape, index_body
from hermes.settings import load_settings


def _shape(**env: str) -> IndexShape:
    return IndexShape.from_settings(load_settings(env))


def test_unset_gives_one_shard_and_auto_expanded_replicas() -> None:
    shape = _shape()
    assert shape == IndexShape(shards=1, replicas=None)
    assert index_body(shape=shape)["settings"] == {
        "number_of_shards": 1,
        "auto_expand_replicas": "0-1",
        "refresh_interval": "1s",
    }
    assert shape.serving() == {"auto_expand_replicas": "0-1", "number_of_replicas": None}


def test_configured_shards_and_replicas_reach_the_index_body() -> None:
    shape = _shape(HERMES_INDEX_SHARDS="6", HERMES_INDEX_REPLICAS="2")
    assert index_body(shape=shape)["settings"] == {
        "number_of_shards": 6,
        "number_of_replicas": 2,
        "auto_expand_replicas": False,
        "refresh_interval": "1s",
    }
    assert shape.serving() == {"auto_expand_replicas": False, "number_of_replicas": 2}


@pytest.mark.parametrize("replicas", [None, "0", "2"])
def test_a_bulk_build_has_the_shards_and_no_replica_whatever_is_configured(replicas: str | None) -> None:
    env = {"HERMES_INDEX_SHARDS": "4"} | ({"HERMES_INDEX_REPLICAS": replicas} if replicas else {})
    settings = index_body(shape=_shape(**env), bulk=True)["settings"]
    assert settings == {
        "number_of_shards": 4,
        "number_of_replicas": 0,
        "auto_expand_replicas": False,
        "refresh_interval": "-1",
    }


def test_the_bulk_build_keeps_the_translog_synced_per_request() -> None:
    # With no replica, the building index's acknowledged writes survive a lost node only on its disk:
    # index.translog.durability must stay "request" (the default), never "async".
    assert not any("translog" in key for key in BULK_SETTINGS)


def test_the_index_records_its_shape_and_reads_it_back() -> None:
    shape = IndexShape(shards=3, replicas=1)
    meta = index_body(shape=shape, bulk=True)["mappings"]["_meta"]["hermes_shape"]
    assert meta == {"shards": 3, "replicas": 1}
    assert IndexShape.from_recorded(meta) == shape
    assert IndexShape.from_recorded({"shards": 2, "replicas": None}) == IndexShape(2, None)


def test_an_index_from_before_shapes_were_recorded_gets_the_defaults() -> None:
    assert IndexShape.from_recorded(None) == IndexShape()


def test_an_empty_replica_setting_means_unset() -> None:
    assert _shape(HERMES_INDEX_REPLICAS=" ").replicas is None


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HERMES_INDEX_SHARDS": "0"}, "HERMES_INDEX_SHARDS"),
        ({"HERMES_INDEX_SHARDS": "three"}, "HERMES_INDEX_SHARDS"),
        ({"HERMES_INDEX_SHARDS": "2000"}, "HERMES_INDEX_SHARDS"),
        ({"HERMES_INDEX_REPLICAS": "-1"}, "HERMES_INDEX_REPLICAS"),
        ({"HERMES_INDEX_REPLICAS": "auto"}, "HERMES_INDEX_REPLICAS"),
        ({"HERMES_SHARD_WAIT_S": "0"}, "HERMES_SHARD_WAIT_S"),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        load_settings(env)
