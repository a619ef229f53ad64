"""Versioned index mappings and settings: data owned by the package.

A change here means a new ``MAPPING_VERSION`` and a full load into a new index
behind the alias; existing indices are never altered in place.

Only core mapping types are used (no ``search_as_you_type``, which lives in the
``mapper-extras`` module that minimal distributions lack): titles get an
``index_prefixes`` sub-field, which serves ``match_bool_prefix`` as-you-type
queries on every distribution.
"""

from __future__ import annotations

from typing import Any

MAPPING_VERSION = 1

MAPPINGS: dict[str, Any] = {
    # Unknown record fields stay in _source but are not indexed: no mapping explosion.
    "dynamic": False,
    "_meta": {"hermes_mapping_version": MAPPING_VERSION},
    "properties": {
        "id": {"type": "keyword"},
        "title": {
            "type": "text",
            "fields": {
                "keyword": {"type": "keyword", "ignore_above": 512},
                "prefix": {
                    "type": "text",
                    "index_prefixes": {"min_chars": 1, "max_chars": 10},
                },
            },
        },
        "content": {"type": "text"},
        "tags": {"type": "keyword"},
        "created_at": {"type": "date"},
        "updated_at": {"type": "date"},
        "deleted": {"type": "boolean"},
    },
}

SERVING_SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    # 0 replicas on a single node (green), 1 on a real cluster.
    "auto_expand_replicas": "0-1",
    "refresh_interval": "1s",
}

# While a full load writes into an index nobody reads yet.
BULK_SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "auto_expand_replicas": False,
    "number_of_replicas": 0,
    "refresh_interval": "-1",
}

STATE_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "kind": {"type": "keyword"},
        "expires_at": {"type": "date"},
        "updated_at": {"type": "date"},
    },
}


def index_body(*, bulk: bool = False) -> dict[str, Any]:
    """Settings and mappings for a new data index."""
    return {"settings": BULK_SETTINGS if bulk else SERVING_SETTINGS, "mappings": MAPPINGS}
