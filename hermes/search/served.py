"""The schema of the served index: what ``GET /search`` and ``/openapi.json`` take (CONTRACT.md § Fields).

A changed ``HERMES_SCHEMA`` takes effect with the next full load, so the search function reads the
schema from the index behind the alias (its mapping ``_meta``, written by the loader that built it),
not from its own environment. It keeps it ``HERMES_SCHEMA_REFRESH_S`` seconds: one small request per
period, and a swap shows within one period. Queries stay valid in between: every declared-field clause
tolerates a field the index does not map (``unmapped_type``, ``ignore_unmapped``).

Request threads share one :class:`ServedSchema`; each replaces the cached entry whole (one assignment).
"""

from __future__ import annotations

import logging
import time

from pydantic import ValidationError

from hermes.schema import EMPTY, Schema
from hermes.search.reader import Reader

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
        metas = reader.mapping_meta(alias)
        if not metas:
            return EMPTY
        recorded = metas[max(metas)].get("hermes_schema")  # two indices only mid-swap: the newest
        try:
            schema = Schema.from_recorded(recorded)
        except ValidationError:  # written by another Hermes version: serve the core fields
            log.warning("served index has an unreadable schema", extra={"alias": alias})
            schema = EMPTY
        self._entry = (now, schema)
        return schema
