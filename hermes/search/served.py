"""The schema of the served index: what ``GET /search`` and ``/openapi.json`` take (CONTRACT.md § Fields).

A changed ``HERMES_SCHEMA`` takes effect with the next full load, so the search function reads the
schema from the index behind the alias (its mapping ``_meta``, written by the loader that built it),
not from its own environment. It keeps it ``HERMES_SCHEMA_REFRESH_S`` seconds: one small request per
period, and a swap shows within one period. In between, a field the new index no longer maps is
tolerated by every declared-field clause (``unmapped_type``, ``ignore_unmapped``); a field whose *type*
changed makes Elasticsearch answer 400, and the search app then forgets the schema, reads it again and,
if it changed, runs the search once more (``hermes.search.app``).

Reading ``_mapping`` needs the ``view_index_metadata`` privilege on the alias. Without it (403), the
served index's declared fields cannot be known: the search function serves the core fields and logs a
warning each refresh period instead of failing every search.

Request threads share one :class:`ServedSchema`; each replaces the cached entry whole (one assignment).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from hermes.client import ElasticsearchStatusError
from hermes.schema_light import EMPTY, is_empty_record
from hermes.search.reader import Reader

if TYPE_CHECKING:
    from hermes.schema import Schema

log = logging.getLogger(__name__)


class ServedSchema:
    """The served index's schema, read again after ``refresh_s`` seconds."""

    def __init__(self, refresh_s: float) -> None:
        self.refresh_s = refresh_s
        self._entry: tuple[float, Schema] | None = None

    def get(self, reader: Reader, alias: str) -> Schema:
        """The schema (the empty one when the alias does not exist yet: nothing is cached then)."""
        entry = self._entry
        now = time.monotonic()
        if entry is not None and now - entry[0] < self.refresh_s:
            return entry[1]
        try:
            metas = reader.mapping_meta(alias)
        except ElasticsearchStatusError as exc:
            if exc.status != 403:
                raise
            log.warning(
                "no privilege to read the served index's mapping: serving the core fields only", extra={"alias": alias}
            )
            metas = {}
            self._entry = (now, EMPTY)
        if not metas:
            return EMPTY
        recorded = metas[max(metas)].get("hermes_schema")  # two indices only mid-swap: the newest
        schema = EMPTY if is_empty_record(recorded) else _read(recorded, alias)
        self._entry = (now, schema)
        return schema

    def cached(self) -> Schema:
        """The last schema read, whatever its age (the empty one if none was)."""
        entry = self._entry
        return EMPTY if entry is None else entry[1]

    def forget(self) -> None:
        """Read the schema again on the next :meth:`get`."""
        self._entry = None


def _read(recorded: object, alias: str) -> Schema:
    """A recorded schema that declares something: the model reads it (pydantic, imported now)."""
    from pydantic import ValidationError  # noqa: PLC0415 - only for an index that declares fields

    from hermes.schema import Schema  # noqa: PLC0415

    try:
        return Schema.from_recorded(recorded)
    except ValidationError:  # written by another Hermes version: serve the core fields
        log.warning("served index has an unreadable schema", extra={"alias": alias})
        return EMPTY
