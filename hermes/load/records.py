"""Records of the data source: validation and the document + version they become."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hermes.documents import TOMBSTONE_FLAG, is_live
from hermes.load.values import declared
from hermes.schema import EMPTY, Schema
from hermes.timestamps import ES_DATE_TIME, format_rfc3339, parse_rfc3339

# What Elasticsearch's default date format reads as is: kept verbatim (no reformatting cost).
_ES_READABLE = re.compile(ES_DATE_TIME)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_ID_BYTES = 512
DEFAULT_MAX_RECORD_BYTES = 5 * 1024 * 1024


class Record(BaseModel):
    """One record of the data source (CONTRACT.md § Documents)."""

    model_config = ConfigDict(extra="allow", strict=True)

    id: str = Field(min_length=1, max_length=512)
    updated_at: datetime
    title: str | None = None
    content: str | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    deleted: bool = False

    @field_validator("id")
    @classmethod
    def _id_bytes(cls, value: str) -> str:
        # Elasticsearch limits _id to 512 *bytes*: one longer id fails the whole bulk request.
        if len(value.encode("utf-8", "surrogatepass")) > _MAX_ID_BYTES:
            msg = f"must be at most {_MAX_ID_BYTES} bytes in UTF-8"
            raise ValueError(msg)
        return value

    @field_validator("updated_at", "created_at", mode="before")
    @classmethod
    def _timestamp(cls, value: object) -> datetime | None:
        return None if value is None else parse_rfc3339(value)

    @field_validator("updated_at")
    @classmethod
    def _after_epoch(cls, value: datetime) -> datetime:
        if value <= _EPOCH:
            msg = "must be after 1970-01-01T00:00:00Z"
            raise ValueError(msg)
        return value


@dataclass(frozen=True, slots=True)
class Operation:
    """What one record does to the index: write ``document`` at ``version``.

    Tombstones are written too (as ``deleted: true`` documents that every read
    filters out), so Elasticsearch keeps their version forever and an older copy
    arriving later cannot resurrect the record.
    """

    id: str
    version: int
    updated_at: datetime
    document: dict[str, Any]

    @property
    def deleted(self) -> bool:
        return not is_live(self.document)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that failed validation: skipped, counted, reported.

    ``version`` is the record's ``updated_at`` as given (when it has one): a dead letter
    is kept once per record id and version, however often a delta's overlap re-reads it.
    """

    id: str | None
    reason: str
    version: str | None = None


def version_of(updated_at: datetime) -> int:
    """External version: microseconds since the epoch, so newer always wins."""
    delta = updated_at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_operation(
    raw: object, max_bytes: int = DEFAULT_MAX_RECORD_BYTES, schema: Schema = EMPTY
) -> Operation | Rejected:
    """Validate one raw record and turn it into an operation or a rejection.

    Whatever would make Elasticsearch refuse the document, or its bulk request, is a
    rejection here instead: a declared field's value its mapping cannot take (``schema``, see
    :mod:`hermes.load.values`), a serialised size over ``max_bytes`` (one 110 MB record got
    its whole bulk request a 413), nesting orjson cannot serialise (over 255 levels), a
    lone surrogate in a string. Extra fields are kept, renamed when Elasticsearch could
    not store their name (see :func:`storable_name`).
    """
    if isinstance(raw, Rejected):  # the source could not even parse it (a bad NDJSON line)
        return raw
    if not isinstance(raw, dict):
        return Rejected(None, f"record is a JSON {type(raw).__name__}, not an object")
    try:
        record = Record.model_validate(raw)
    except ValidationError as exc:
        rid, version = raw.get("id"), raw.get("updated_at")
        return Rejected(
            rid if isinstance(rid, str) else None, _reason(exc), version if isinstance(version, str) else None
        )
    updated = _es_date(raw["updated_at"], record.updated_at)
    if record.deleted:
        document: dict[str, Any] = {"id": record.id, "updated_at": updated, TOMBSTONE_FLAG: True}
    else:
        renamed = _storable(raw)
        if isinstance(renamed, str):
            return Rejected(record.id, renamed, raw["updated_at"])
        if schema.fields:
            checked = declared(schema, renamed)
            if isinstance(checked, str):
                return Rejected(record.id, checked, raw["updated_at"])
            renamed = checked
        document = {**renamed, "updated_at": updated, TOMBSTONE_FLAG: False}
        if record.created_at is not None:
            document["created_at"] = _es_date(raw["created_at"], record.created_at)
    try:
        size = len(orjson.dumps(document))
    except orjson.JSONEncodeError as exc:  # nesting over 255 levels, a lone surrogate
        return Rejected(record.id, f"record cannot be stored as JSON: {exc}", raw["updated_at"])
    if size > max_bytes:
        return Rejected(
            record.id, f"record is {size} bytes, over HERMES_MAX_RECORD_BYTES ({max_bytes})", raw["updated_at"]
        )
    return Operation(record.id, version_of(record.updated_at), record.updated_at, document)


def storable_name(name: str) -> str:
    """The name an extra field is stored under.

    Elasticsearch cannot take, at the top of a document, an empty name, a name starting
    with ``_`` (its metadata fields: ``_id``, ``_source``, ``_routing``…) or a name with a
    ``.`` (read as an object path: ``title.keyword`` would collide with a core field).
    Such a field is kept as ``x_<name>`` with each ``.`` replaced by ``_``; every other
    name is kept as it is.
    """
    if name and not name.startswith("_") and "." not in name:
        return name
    return "x_" + name.replace(".", "_")


def _storable(raw: dict[str, Any]) -> dict[str, Any] | str:
    """``raw`` with extra fields renamed as :func:`storable_name` says, or the reason it cannot be."""
    if all(storable_name(k) == k for k in raw):
        return raw
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = storable_name(key)
        if name != key and name in raw:
            return f"field {key!r} would be stored as {name!r}, which the record already has"
        out[name] = value
    return out


def _es_date(text: str, parsed: datetime) -> str:
    """The timestamp as given when Elasticsearch reads it as is, else normalised to UTC."""
    return text if _ES_READABLE.fullmatch(text) else format_rfc3339(parsed)


def _reason(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'record'}: {err['msg']}" for err in exc.errors())
