"""Versioned index mappings and settings: data owned by the package.

A change here means a new ``MAPPING_VERSION`` and a full load into a new index
behind the alias; existing indices are never altered in place.

Only core mapping types are used (no ``search_as_you_type``, which lives in the
``mapper-extras`` module that minimal distributions lack): titles get an
``index_prefixes`` sub-field, which serves ``match_bool_prefix`` as-you-type
queries on every distribution.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hermes.schema import EMPTY, DeclaredField, Schema

if TYPE_CHECKING:
    from hermes.settings import Settings

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

# While a full load writes into an index nobody reads yet: no replica to copy every write to, no refresh.
# ``index.translog.durability`` stays at its default, ``request``: a bulk is acknowledged only once its
# translog is fsynced, so a node lost mid-load gives back every acknowledged write when it rejoins
# (``async`` would lose up to five seconds of them).
BULK_SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "auto_expand_replicas": False,
    "number_of_replicas": 0,
    "refresh_interval": "-1",
}


@dataclass(frozen=True)
class IndexShape:
    """Shards and replicas of a new data index (``HERMES_INDEX_SHARDS``, ``HERMES_INDEX_REPLICAS``).

    ``replicas`` None keeps ``auto_expand_replicas: 0-1``: 0 replicas on one node (green), 1 on more.
    """

    shards: int = 1
    replicas: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexShape:
        return cls(settings.index_shards, settings.index_replicas)

    def serving(self) -> dict[str, Any]:
        """The replica settings of a served index (the number of shards is fixed at creation)."""
        if self.replicas is None:
            return {"auto_expand_replicas": SERVING_SETTINGS["auto_expand_replicas"], "number_of_replicas": None}
        return {"auto_expand_replicas": False, "number_of_replicas": self.replicas}

    def recorded(self) -> dict[str, Any]:
        """What the index's ``_meta`` keeps, so whichever process finishes the build restores the same."""
        return {"shards": self.shards, "replicas": self.replicas}

    @classmethod
    def from_recorded(cls, meta: object) -> IndexShape:
        """The shape a ``_meta`` recorded; an index from before shapes were recorded gets the defaults."""
        if not isinstance(meta, dict):
            return cls()
        replicas = meta.get("replicas")
        return cls(int(meta.get("shards", 1)), None if replicas is None else int(replicas))


STATE_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "kind": {"type": "keyword"},
        "expires_at": {"type": "date"},
        "updated_at": {"type": "date"},
    },
}


# Declared types → Elasticsearch types. Keyword values longer than this are kept in _source but not
# indexed, as Elasticsearch refuses a whole document for one term over 32,766 bytes.
KEYWORD_IGNORE_ABOVE = 1024
_TYPES = {"number": "double", "date": "date", "boolean": "boolean", "geo_point": "geo_point"}


def declared_mapping(spec: DeclaredField) -> dict[str, Any]:
    """The mapping of one declared field; a text field filtered, faceted or sorted gets a ``raw`` keyword."""
    if spec.type == "keyword":
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if spec.type != "text":
        return {"type": _TYPES[spec.type]}
    mapping: dict[str, Any] = {"type": "text"}
    if spec.analyzer:
        mapping["analyzer"] = spec.analyzer
    if spec.filter or spec.facet or spec.sort:
        mapping["fields"] = {"raw": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}}
    return mapping


def mappings(schema: Schema = EMPTY, analysis: dict[str, Any] | None = None) -> dict[str, Any]:
    """The core mappings plus the declared fields, recording what they were built from in ``_meta``."""
    out = copy.deepcopy(MAPPINGS)
    for name in ("title", "content"):
        analyzer = getattr(schema.core, name).analyzer
        if analyzer:
            out["properties"][name]["analyzer"] = analyzer
    for name, spec in schema.fields.items():
        out["properties"][name] = declared_mapping(spec)
    out["_meta"]["hermes_schema"] = schema.recorded()
    if analysis:
        out["_meta"]["hermes_analysis"] = analysis
    return out


def index_body(
    schema: Schema = EMPTY,
    analysis: dict[str, Any] | None = None,
    *,
    bulk: bool = False,
    shape: IndexShape | None = None,
) -> dict[str, Any]:
    """Settings and mappings for a new data index: ``shape``'s shards; its replicas, or 0 to ``bulk`` build.

    The shape is recorded in the mappings' ``_meta`` (``hermes_shape``): :func:`indices.finish_bulk`
    restores the replicas from there, whichever process ends the build.
    """
    shape = shape or IndexShape()
    if bulk:
        settings = {**BULK_SETTINGS, "number_of_shards": shape.shards}
    else:
        settings = {**SERVING_SETTINGS, **shape.serving(), "number_of_shards": shape.shards}
        settings = {k: v for k, v in settings.items() if v is not None}
    if analysis:
        settings["analysis"] = analysis
    body = mappings(schema, analysis)
    body["_meta"]["hermes_shape"] = shape.recorded()
    return {"settings": settings, "mappings": body}
