"""The load pipeline: the one stream full and delta loads share.

::

    data source ─HTTP/file─▶ read_records()      sources.py: ijson / NDJSON, urllib3 Retry
                                 │ raw records
                                 ▼
                             operations()         records.py: validate, external version
                                 │ Operation | Rejected        ┐ thread "hermes-prefetch": owns the
                                 ▼                              ┘ source and closes it on every exit
                             Prefetch queue       prefetch.py: bounded, depth * batch items
                                 │
                                 ▼
                             Sink                 sink.py: N bulk workers "hermes-bulk-<n>",
                                 │                each running helpers.streaming_bulk
                                 ▼
                             Outcome              counts, newest done, oldest blocked, dead letters
                                 │                (ErrorBudget raises when failures cross a limit)
                                 ▼
          full.py:  finish bulk → verify → lease.check() → swap alias → watermark ≤ start → prune
          delta.py: refresh → lease.check() → watermark = max(old, newest done), ≤ oldest blocked

Both run inside ``LoadLock.held()`` (lock.py), whose heartbeat thread renews the lock
while the stream runs. The request thread waits on the bulk workers; it never reads
the source itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from typing import TYPE_CHECKING

from hermes.load.lock import LoadLock
from hermes.load.prefetch import Prefetch
from hermes.load.records import Operation, Rejected, to_operation
from hermes.load.sink import Outcome, Sink
from hermes.load.sources import SourceConfig, read_records
from hermes.schema import EMPTY, Schema
from hermes.settings import Settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


def loader_client(client: Elasticsearch, settings: Settings) -> Elasticsearch:
    """Loaders wait longer than searches: a refresh after a large bulk takes seconds."""
    return client.options(request_timeout=settings.es_bulk_timeout_s)


def load_lock(client: Elasticsearch, settings: Settings) -> LoadLock:
    """The one load lock of this alias."""
    return LoadLock(client, settings.state_index, settings.lock_ttl_s)


def operations(records: Iterator[object], max_bytes: int, schema: Schema = EMPTY) -> Iterator[Operation | Rejected]:
    """Validated operations; closing this closes the source."""
    with closing(records):  # type: ignore[type-var]
        for raw in records:
            yield to_operation(raw, max_bytes, schema)


def stream(
    client: Elasticsearch, index: str, settings: Settings, since: datetime | None, schema: Schema = EMPTY
) -> Outcome:
    """Source → prefetch → sink into ``index``, whose declared fields are ``schema``'s; source and threads
    are closed on every exit."""
    records = read_records(SourceConfig.from_settings(settings), since)
    return write(Sink(client, index, settings), records, settings, schema)


def write(sink: Sink, records: Iterator[object], settings: Settings, schema: Schema = EMPTY) -> Outcome:
    """Raw records → validated operations → prefetch → ``sink``; the records are closed on every exit."""
    # A record larger than a bulk chunk would be sent alone, and refused alone if still too big.
    max_bytes = min(settings.max_record_bytes, settings.bulk_chunk_bytes)
    with Prefetch(operations(records, max_bytes, schema)) as items:
        return sink.write(items)
