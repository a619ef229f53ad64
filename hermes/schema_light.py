"""The schema's pure parts, and the empty schema without pydantic, for the search function's cold path.

``hermes.schema`` declares the schema as pydantic models. The search function reads the schema the
served index recorded on its first request; when that index declares no field (the recorded form is
``{}``, or absent), :data:`EMPTY` answers every question the search path asks of a schema, and
pydantic is not imported. Any other recorded schema is read by the model (``hermes.search.served``).
``tests/unit/search/test_served_schema.py`` checks :data:`EMPTY` against ``Schema()``, field by field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from hermes.schema import Schema

CORE_FIELDS = frozenset({"id", "updated_at", "title", "content", "tags", "created_at", "deleted"})
# Values of `sort` that are not field names.
RESERVED = frozenset({"relevance", "distance"})


class _Untuned:
    """A core field with neither boost nor analyzer."""

    boost = None
    analyzer = None


class _Core:
    title = content = tags = _Untuned()


class _EmptySchema:
    """What ``Schema()`` answers: no declared field, no tuning."""

    fields: Mapping[str, Any] = MappingProxyType({})
    core = _Core()
    geo_field = None

    def recorded(self) -> dict[str, Any]:
        """The form an index records: nothing."""
        return {}

    def __eq__(self, other: object) -> bool:
        recorded = getattr(other, "recorded", None)
        return callable(recorded) and recorded() == {}

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "Schema()"


# Not a Schema, but every attribute the search path reads of one (see the module's docstring).
EMPTY = cast("Schema", _EmptySchema())


def is_empty_record(value: object) -> bool:
    """Whether an index's recorded schema is the empty one (``Schema.from_recorded`` would say so)."""
    return not isinstance(value, dict) or value == {}


def is_number(value: object) -> bool:
    """A JSON number a ``number`` field takes: finite, not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_lat_lon(lat: object, lon: object) -> bool:
    """Degrees of latitude and longitude on the globe."""
    return is_number(lat) and is_number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180  # type: ignore[operator]
