"""The swap waits for green: a full load never serves an index with unassigned copies."""

from __future__ import annotations

from typing import Any

import pytest

from hermes.errors import NotGreenError
from hermes.load import indices

pytestmark = pytest.mark.integration


def test_a_yellow_index_is_not_swapped_to(es: Any, alias: str) -> None:
    # One replica on a single node can never be allocated: the index stays yellow.
    name = indices.new_index_name(alias)
    es.indices.create(index=name, settings={"number_of_shards": 1, "number_of_replicas": 1})
    with pytest.raises(NotGreenError, match=r"yellow after 1 s: 1 shard copies unassigned"):
        indices.wait_green(es, name, 1)
    es.indices.put_settings(index=name, settings={"number_of_replicas": 0})
    indices.wait_green(es, name, 5)
