"""Declared fields (``HERMES_SCHEMA``, CONTRACT.md § Fields): the one model every other part derives from.

Loaders derive the index mappings from it (``hermes.load.mappings``) and record it in the new index's
``_meta``; the search function reads it back from the *served* index (``hermes.search.served``) and derives
its parameters, query clauses, facets and OpenAPI from it (``hermes.search.fields``). A changed
``HERMES_SCHEMA`` therefore takes effect with the next full load, never in an index already built.

Besides the contract's ``fields``, a schema may tune the core text fields under ``core``: a ``boost`` for
``title``, ``content`` and ``tags``, and an ``analyzer`` for ``title`` and ``content`` (docs/api.md § Declared fields).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hermes.schema_light import CORE_FIELDS, RESERVED, is_lat_lon, is_number

__all__ = ["CORE_FIELDS", "EMPTY", "RESERVED", "CoreTuning", "DeclaredField", "Schema", "is_lat_lon", "is_number"]
FieldType = Literal["text", "keyword", "number", "date", "boolean", "geo_point"]
MAX_FIELDS = 100
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ANALYZER = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_Boost = Field(None, gt=0, le=1000)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _analyzer_name(value: str | None) -> str | None:
    if value is not None and not _ANALYZER.fullmatch(value):
        msg = "must name an analyzer: letters, digits, '_', '-' or '.'"
        raise ValueError(msg)
    return value


class DeclaredField(_Strict):
    """One field beyond the core document."""

    type: FieldType
    search: bool = False
    boost: float | None = _Boost
    filter: bool = False
    facet: bool = False
    sort: bool = False
    analyzer: str | None = None

    _check_analyzer = field_validator("analyzer")(_analyzer_name)

    @model_validator(mode="after")
    def _flags_apply(self) -> DeclaredField:
        text_only = [name for name in ("search", "boost", "analyzer") if getattr(self, name) not in (None, False)]
        if self.type != "text" and text_only:
            msg = f"{', '.join(text_only)}: for text fields only, not {self.type}"
            raise ValueError(msg)
        if self.boost is not None and not self.search:
            msg = "boost: needs search: true"
            raise ValueError(msg)
        if self.type == "geo_point" and (self.filter or self.facet or self.sort):
            msg = "geo_point takes no filter, facet or sort flag: near= and radius= filter by it, sort=distance sorts"
            raise ValueError(msg)
        return self

    @property
    def ranged(self) -> bool:
        """Whether ``range.<name>`` applies (and a facet is ``{min, max}``)."""
        return self.type in ("number", "date")


class CoreText(_Strict):
    """Tuning of ``title`` or ``content``."""

    boost: float | None = _Boost
    analyzer: str | None = None

    _check_analyzer = field_validator("analyzer")(_analyzer_name)


class CoreTags(_Strict):
    """Tuning of ``tags`` (a keyword field: no analyzer)."""

    boost: float | None = _Boost


class CoreTuning(_Strict):
    """Boosts and analyzers of the core text fields."""

    title: CoreText = CoreText()
    content: CoreText = CoreText()
    tags: CoreTags = CoreTags()


class Schema(_Strict):
    """``HERMES_SCHEMA``: ``{"fields": {"<name>": {...}}, "core": {...}}``."""

    fields: dict[str, DeclaredField] = Field(default_factory=dict, max_length=MAX_FIELDS)
    core: CoreTuning = CoreTuning()

    @field_validator("fields", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        for name in value if isinstance(value, dict) else ():
            if name in CORE_FIELDS:
                msg = f"{name}: is a core field; tune it under core, not fields"
                raise ValueError(msg)
            if name in RESERVED:
                msg = f"{name}: is reserved (sort={name} means something else)"
                raise ValueError(msg)
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                msg = f"{name}: a field name is lowercase [a-z][a-z0-9_]*, at most 64 characters"
                raise ValueError(msg)
        return value

    @field_validator("fields")
    @classmethod
    def _one_place(cls, value: dict[str, DeclaredField]) -> dict[str, DeclaredField]:
        places = [name for name, spec in value.items() if spec.type == "geo_point"]
        if len(places) > 1:
            msg = f"{', '.join(places)}: at most one geo_point field (near= and sort=distance use it)"
            raise ValueError(msg)
        return value

    @property
    def geo_field(self) -> str | None:
        """The one ``geo_point`` field, if declared."""
        return next((name for name, spec in self.fields.items() if spec.type == "geo_point"), None)

    def recorded(self) -> dict[str, Any]:
        """The form kept in an index's ``_meta`` (and compared to tell a served index is behind)."""
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def from_recorded(cls, value: object) -> Schema:
        """The schema an index recorded; an index built before schemas existed has the empty one."""
        return cls.model_validate(value) if isinstance(value, dict) else EMPTY


EMPTY = Schema()
