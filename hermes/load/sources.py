"""Streaming readers for the data-source protocol (CONTRACT.md § Documents and the data source).

Bodies are parsed incrementally (ijson, line by line for NDJSON): memory stays
flat whatever the source's size. Transient HTTP failures (connect errors,
timeouts, 429/5xx) are retried with exponential backoff by urllib3's ``Retry``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import unquote, urljoin, urlsplit

import ijson
import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util.retry import Retry

from hermes.errors import ConfigurationError, SourceError
from hermes.load.cursor import PAGE_END, Cursor, Partition, with_query
from hermes.load.records import Rejected
from hermes.load.wide_integers import WideIntegerGuard
from hermes.settings import Settings
from hermes.timestamps import format_rfc3339, parse_rfc3339

log = logging.getLogger(__name__)

_NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


@dataclass(frozen=True)
class SourceConfig:
    """Where records come from and how patiently to ask."""

    url: str
    token: str | None = None
    timeout_s: float = 30.0
    retries: int = 5
    backoff_s: float = 0.5
    deadline_s: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SourceConfig:
        """``DATA_SOURCE_*`` and ``HERMES_SOURCE_*``; refuses when no source is configured."""
        if not settings.data_source_url:
            msg = "DATA_SOURCE_URL is not set: loaders refuse to run without it"
            raise ConfigurationError(msg)
        token = settings.data_source_token.get_secret_value() if settings.data_source_token else None
        return cls(
            settings.data_source_url,
            token,
            settings.source_timeout_s,
            settings.source_retries,
            deadline_s=settings.source_deadline_s,
        )


def read_records(config: SourceConfig, since: datetime | None = None) -> Iterator[object]:
    """Yield every raw record (``since``: only those updated at or after it)."""
    if config.url.startswith("file://"):
        return _guarded(_read_file(_path(config), since), config)
    return _guarded(_read_http(config, since), config)


def read_from(config: SourceConfig, cursor: Cursor, partition: Partition | None = None) -> Iterator[object]:
    """Every raw record of ``partition`` from ``cursor`` on, :data:`PAGE_END` between pages; moves ``cursor``.

    A sliced full load reads this way (hermes/load/cursor.py says what the cursor means).
    """
    partition = partition or Partition()
    if config.url.startswith("file://"):
        return _guarded(_file_from(_path(config), cursor, partition), config)
    return _guarded(_http_from(config, cursor), config)


def _path(config: SourceConfig) -> Path:
    return Path(unquote(urlsplit(config.url).path))


def _guarded(records: Iterator[object], config: SourceConfig) -> Iterator[object]:
    """The records, every failure of the source turned into a :class:`SourceError` an operator can read."""
    try:
        yield from records
    except SourceError:
        raise
    except (requests.RequestException, Urllib3Error, ijson.JSONError, ValueError, OSError) as exc:
        msg = f"data source failed: {describe(exc, config)} ({type(exc).__name__})"
        raise SourceError(msg) from exc


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and contexts, and the errors requests and urllib3 wrap in their arguments."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]


def describe(exc: BaseException, config: SourceConfig) -> str:
    """What went wrong, in words an operator can act on; never the URL (it may carry a secret)."""
    names = {type(e).__name__ for e in _chain(exc)}
    if names & {"ReadTimeout", "ReadTimeoutError", "TimeoutError", "ConnectTimeout", "ConnectTimeoutError"}:
        return f"no answer within {config.timeout_s:g} s (HERMES_SOURCE_TIMEOUT_S), {config.retries} retries spent"
    if names & {"NewConnectionError", "ConnectionRefusedError", "NameResolutionError"}:
        return f"cannot connect, {config.retries} retries spent"
    if names & {"ProtocolError", "ChunkedEncodingError", "ConnectionResetError", "IncompleteRead"}:
        return "the connection broke before the body was complete"
    if names & {"IncompleteJSONError", "JSONError", "JSONDecodeError"}:
        return "the body is not valid JSON"
    return "unexpected error"


# --- files -------------------------------------------------------------------------------------


def _read_file(path: Path, since: datetime | None) -> Iterator[object]:
    with path.open("rb") as body:
        if path.suffix in (".ndjson", ".jsonl"):
            records = _ndjson(body)
        else:
            records = _json_body(body, on_next=lambda _next: None)
        for record in records:
            if since is None or _updated_since(record, since):
                yield record


def _file_from(path: Path, cursor: Cursor, partition: Partition) -> Iterator[object]:
    """A file is one page: skip what ``cursor`` says was loaded, take this partition's share (round-robin)."""
    with path.open("rb") as body:
        records = _ndjson(body) if path.suffix in (".ndjson", ".jsonl") else _json_body(body, lambda _next: None)
        taken = 0
        for position, record in enumerate(records):
            if not partition.holds(position):
                continue
            taken += 1
            if taken > cursor.offset:
                cursor.offset = taken
                yield record
    cursor.url, cursor.offset = None, 0


def _updated_since(record: object, since: datetime) -> bool:
    """Files have no server to filter: do it here. Unparseable → keep (validation reports it)."""
    if not isinstance(record, dict):
        return True
    try:
        return parse_rfc3339(record.get("updated_at")) >= since
    except ValueError:
        return True


# --- HTTP --------------------------------------------------------------------------------------


class _CappedRetry(Retry):
    """urllib3's Retry, honouring a source's ``Retry-After`` only up to a cap (20 s held a load 100 s)."""

    MAX_RETRY_AFTER_S = 10.0

    def get_retry_after(self, response: Any) -> float | None:
        asked = super().get_retry_after(response)
        return None if asked is None else min(asked, self.MAX_RETRY_AFTER_S)


def _session(config: SourceConfig) -> requests.Session:
    retry = _CappedRetry(
        total=config.retries,
        connect=config.retries,
        read=config.retries,
        status=config.retries,
        backoff_factor=config.backoff_s,
        backoff_max=30,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["Accept"] = "application/json, application/x-ndjson"
    if config.token:
        session.headers["Authorization"] = f"Bearer {config.token}"
    return session


def _read_http(config: SourceConfig, since: datetime | None) -> Iterator[object]:
    first = config.url if since is None else with_query(config.url, since=format_rfc3339(since))
    cursor = Cursor(first)
    for record in _http_from(config, cursor):
        if record is not PAGE_END:
            yield record
    log.debug("source read", extra={"pages": cursor.pages})


def _http_from(config: SourceConfig, cursor: Cursor) -> Iterator[object]:
    """Pages from ``cursor.url`` on; the records of its first page that ``cursor.offset`` counts are skipped."""
    origin = urlsplit(config.url)[:2]
    seen: set[str] = set()
    with _session(config) as session:
        while cursor.url is not None:
            cursor.pages += 1
            with session.get(cursor.url, stream=True, timeout=config.timeout_s) as resp:
                if resp.status_code != 200:
                    msg = f"data source answered HTTP {resp.status_code} (page {cursor.pages} of this slice)"
                    raise SourceError(msg)
                seen.add(resp.url)
                links = _Collect()
                skip = cursor.offset
                body = _http_body(resp, links.send, _Deadline(config.deadline_s, cursor.pages))
                for taken, record in enumerate(body, start=1):
                    if taken > skip:
                        cursor.offset = taken
                        yield record
                following = _next_url(resp.url, links[0] if links else None, origin, seen)
            cursor.url, cursor.offset = following, 0
            yield PAGE_END


def _next_url(current: str, link: object, origin: tuple[str, str], seen: set[str]) -> str | None:
    """The next page's URL: within the origin of DATA_SOURCE_URL (the bearer token goes nowhere
    else, and no internal URL is fetched on a page's word), and never a page already read."""
    if link is None:
        return None
    if not isinstance(link, str):
        msg = 'data source page has a "next" that is neither a string nor null'
        raise SourceError(msg)
    url = urljoin(current, link)
    if urlsplit(url)[:2] != origin:
        msg = f'data source page links "next" outside the origin of DATA_SOURCE_URL: {urlsplit(url).netloc!r}'
        raise SourceError(msg)
    if url in seen:
        msg = 'data source page links "next" to a page already read (a loop)'
        raise SourceError(msg)
    return url


def _http_body(resp: requests.Response, on_next: Any, deadline: _Deadline) -> Iterator[object]:
    resp.raw.decode_content = True
    raw = cast(IO[bytes], resp.raw)
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype in _NDJSON_TYPES:
        return _ndjson(raw, deadline)
    return _json_body(raw, on_next, deadline=deadline)


class _Deadline:
    """A total time limit for one answer: the read timeout applies per chunk, so a source
    trickling a byte before each timeout would otherwise hold a load forever."""

    def __init__(self, seconds: float, page: int) -> None:
        self.seconds = seconds
        self.page = page
        self.at = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.at:
            msg = (
                f"data source answer (page {self.page}) took longer than {self.seconds:g} s (HERMES_SOURCE_DEADLINE_S)"
            )
            raise SourceError(msg)


# --- body formats ------------------------------------------------------------------------------


def _ndjson(body: IO[bytes], deadline: _Deadline | None = None) -> Iterator[object]:
    """One record a line; a line that is not JSON is one invalid record, not a failed source."""
    for number, line in enumerate(body, start=1):
        if deadline is not None:
            deadline.check()
        if line.strip():
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                yield Rejected(None, f"NDJSON line {number} is not JSON")


class _Collect(list[Any]):
    """A push target for ijson coroutines."""

    def send(self, value: Any) -> None:
        self.append(value)


class _ItemsKey:
    """Push target of an ijson event parser: finds the page's top-level ``items`` and what follows it.

    It sees only the events up to that key (the pipeline stops feeding it then), so a
    well-formed page costs a few events; only a page without ``items`` is watched to its end.
    """

    def __init__(self) -> None:
        self.kind: str | None = None  # the event after the key: "start_array" for a valid page
        self._seen_key = False

    @property
    def found(self) -> bool:
        return self.kind is not None

    def send(self, event: tuple[str, str, Any]) -> None:
        prefix, kind, value = event
        if self._seen_key and self.kind is None and prefix == "items":
            self.kind = kind
        elif prefix == "" and kind == "map_key" and value == "items":
            self._seen_key = True


def _checked(records: list[Any], guard: WideIntegerGuard) -> Iterator[object]:
    """The records, each holding an integer beyond 64 bits turned into its rejection."""
    if not guard.rewritten:
        yield from records
        return
    for record in records:
        path = guard.find(record)
        if path is None:
            yield record
        else:
            rid = record.get("id") if isinstance(record, dict) else None
            reason = f"{path}: an integer beyond the signed 64-bit range, which Elasticsearch cannot store"
            yield Rejected(rid if isinstance(rid, str) else None, reason)


def _parsers(head: bytes, items: _Collect, nexts: _Collect, page: _ItemsKey) -> tuple[list[Any], Any]:
    """ijson's push parsers for a body starting with ``head``, and the watcher of a page's keys."""
    if head == b"[":
        return [ijson.items_coro(items, "item", use_float=True)], None
    if head == b"{":
        parsers = [ijson.items_coro(items, "items.item", use_float=True), ijson.items_coro(nexts, "next")]
        return parsers, ijson.parse_coro(page)
    msg = "data source body is neither a JSON array nor a page object"
    raise SourceError(msg)


def _json_body(
    body: IO[bytes], on_next: Any, chunk_size: int = 64 * 1024, deadline: _Deadline | None = None
) -> Iterator[object]:
    """A JSON array of records, or a page ``{"items": [...], "next": url|null}``.

    The body is pushed chunk by chunk into ijson's C parser; records are yielded
    as each chunk completes them, so memory holds one chunk's worth at most. A page
    object without an ``items`` array is an error, not an empty source: read as empty,
    it would let a forced full load swap the alias to an empty index.
    """
    items, nexts, page = _Collect(), _Collect(), _ItemsKey()
    parsers: list[Any] = []
    watcher: Any = None
    guard = WideIntegerGuard()
    while raw := body.read(chunk_size):
        if deadline is not None:
            deadline.check()
        chunk = guard.feed(raw)
        if not chunk:  # all held back by the guard; an empty send would tell ijson the body ended
            continue
        if not parsers:
            head = chunk.lstrip()[:1]
            if not head:
                continue
            parsers, watcher = _parsers(head, items, nexts, page)
        for parser in parsers:
            parser.send(chunk)
        if watcher is not None and not page.found:
            watcher.send(chunk)
        yield from _checked(items, guard)
        items.clear()
    if not parsers:
        msg = "data source body is empty"
        raise SourceError(msg)
    rest = guard.finish()
    for parser in parsers:
        if rest:
            parser.send(rest)
        parser.close()  # raises on a truncated document
    if watcher is not None and page.kind != "start_array":
        msg = 'data source page has no "items" array'
        raise SourceError(msg)
    yield from _checked(items, guard)
    on_next(nexts[0] if nexts else None)
