"""A generated data source for benchmarks: millions of records, streamed, never held in memory.

The URL path chooses the data: ``/records/n=<N>/changed=<C>/gen=<G>``
- ``N`` base records ``b<i>``, ``updated_at = T0 + i seconds``;
- ``C`` of them (``b0…b<C-1>``) changed in generation ``G`` (``updated_at = T1 + G days + i ms``).
``?since=`` is honoured by arithmetic, so a delta query costs what it returns.

``?partition=<i>&partitions=<n>`` (CONTRACT.md § Documents) serves partition i only: a record ``b<k>`` is in
partition ``CRC-32("b<k>") mod n`` (scripts/demo_source.py's rule). The body is NDJSON, one page; with a
path segment ``page=<P>`` it is JSON pages of P records, ``{"items": [...], "next": "...?start=<k>..."}``,
``next`` keeping the partition (whole listings only: no ``since`` with pages).

    python -m bench.source_server PORT
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from scripts.demo_source import partition_of, partition_query

T0 = datetime(2020, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 1, tzinfo=UTC)
# Titles and contents are drawn from the NATO alphabet.
_ALPHABET = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
    "quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
)
WORDS = _ALPHABET.split()


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_record(i: int, updated: datetime, gen: int = 0) -> dict[str, object]:
    """A record of ~400 bytes: title, content, tags, dates, one unmapped field."""
    w = WORDS
    return {
        "id": f"b{i}",
        "updated_at": _stamp(updated),
        "created_at": _stamp(T0),
        "title": f"{w[i % 26]} {w[(i // 26) % 26]} {w[(i // 676) % 26]} number {i}",
        "content": " ".join(w[(i * (k + 3) + k * k) % 26] for k in range(40)) + f" generation {gen}",
        "tags": [w[i % 5], w[5 + i % 7]],
        "source_rank": i % 1000,
    }


def records(
    n: int, changed: int, gen: int, since: datetime | None, part: tuple[int, int] | None = None
) -> Iterator[dict[str, object]]:
    if part is not None:
        index, count = part
        for record in records(n, changed, gen, since):
            if partition_of(str(record["id"]), count) == index:
                yield record
        return
    first = 0
    if since is not None:
        first = max(0, -(-int((since - T0).total_seconds()) // 1))
    for i in range(first, n):
        if i < changed and gen:
            continue  # served below, with its changed timestamp
        yield make_record(i, T0 + timedelta(seconds=i))
    if gen:
        base = T1 + timedelta(days=gen)
        for i in range(changed):
            when = base + timedelta(milliseconds=i)
            if since is None or when >= since:
                yield make_record(i, when, gen)


def vocabulary_records(n: int, seed: int = 7) -> Iterator[dict[str, object]]:
    """Records over a 60,000-word vocabulary spread as in real text (Zipf-like), 125 words each.

    Over WORDS (26 words) a misspelled word has nothing to expand to; here each fuzzy word expands
    to its 50 nearest terms, as it does on a real corpus: the attack in `hostile` needs that.
    """
    rng = random.Random(seed)  # noqa: S311 - generated test data, reproducible by design
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 11))) for _ in range(60_000)]
    weights = list(itertools.accumulate(1 / (i + 1) ** 0.8 for i in range(len(vocab))))
    for i in range(n):
        words = rng.choices(vocab, cum_weights=weights, k=125)
        yield {
            "id": f"v{i}",
            "updated_at": _stamp(T0 + timedelta(seconds=i)),
            "title": " ".join(words[:6]),
            "content": " ".join(words[6:]),
            "tags": [words[0]],
        }


@functools.cache
def cache_dir() -> Path:
    """The folder of rendered listings, made with the first one: not at import, since the tests import
    :class:`Handler` (each pytest-xdist worker collecting them left a folder behind, the one running them
    with its listings in it)."""
    return Path(tempfile.mkdtemp(prefix="hermes-bench-source-"))


def remove_cache() -> None:
    """Remove the rendered listings' folder, if one was made."""
    if cache_dir.cache_info().currsize:
        shutil.rmtree(cache_dir(), ignore_errors=True)
        cache_dir.cache_clear()


def render(stream: Iterator[dict[str, object]]) -> Iterator[bytes]:
    buf: list[bytes] = []
    for rec in stream:
        buf.append(json.dumps(rec).encode() + b"\n")
        if len(buf) == 500:
            yield b"".join(buf)
            buf.clear()
    if buf:
        yield b"".join(buf)


_RENDERING = threading.Lock()
_PAGES: dict[tuple[Path, int], list[int]] = {}


def rendered(n: int, changed: int, gen: int, part: tuple[int, int] | None = None) -> Path:
    name = f"{n}-{changed}-{gen}" + (f"-p{part[0]}of{part[1]}" if part else "")
    with _RENDERING:  # two partitions' first requests may arrive together (and make the folder once)
        path = cache_dir() / f"{name}.ndjson"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as out:
                for block in render(records(n, changed, gen, None, part)):
                    out.write(block)
            tmp.rename(path)
    return path


def page_starts(path: Path, size: int) -> list[int]:
    """Byte offsets of every page of ``size`` lines in the rendered listing, and its end."""
    with _RENDERING:
        if (path, size) not in _PAGES:
            starts, offset = [], 0
            with path.open("rb") as body:
                for number, line in enumerate(body):
                    if number % size == 0:
                        starts.append(offset)
                    offset += len(line)
            _PAGES[path, size] = [*starts, offset]
        return _PAGES[path, size]


def page_body(path: Path, size: int, start: int, following: dict[str, str], route: str) -> bytes:
    """Page ``start // size`` of the listing as ``{"items": [...], "next": ...}``; the records are its lines."""
    starts = page_starts(path, size)
    number = start // size
    if number >= len(starts) - 1:
        return b'{"items": [], "next": null}'
    with path.open("rb") as body:
        body.seek(starts[number])
        lines = body.read(starts[number + 1] - starts[number])
    more = number + 2 < len(starts)
    link = json.dumps(f"{route}?{urlencode({**following, 'start': str(start + size)})}") if more else "null"
    return b'{"items": [' + lines.rstrip(b"\n").replace(b"\n", b",") + b'], "next": ' + link.encode() + b"}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = dict(p.split("=", 1) for p in url.path.split("/") if "=" in p)
        query = parse_qs(url.query)
        since_raw = query.get("since", [None])[0]
        since = datetime.fromisoformat(since_raw.replace("Z", "+00:00")) if since_raw else None
        args = (int(parts.get("n", "0")), int(parts.get("changed", "0")), int(parts.get("gen", "0")))
        try:
            part = partition_query(query)
        except ValueError as exc:
            self._whole(400, json.dumps({"error": {"type": "invalid_parameter", "message": str(exc)}}).encode())
            return
        if "page" in parts:
            following = {"partition": str(part[0]), "partitions": str(part[1])} if part else {}
            start = int(query.get("start", ["0"])[0])
            self._whole(200, page_body(rendered(*args, part), int(parts["page"]), start, following, url.path))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if since is None:
            # Whole listings are rendered once and then served from disk: the source's own CPU
            # (a separate machine in real life) stays out of the loader's measurements.
            with rendered(*args, part).open("rb") as body:
                while block := body.read(1 << 20):
                    self._chunk(block)
        else:
            for block in render(records(*args, since, part)):
                self._chunk(block)
        self.wfile.write(b"0\r\n\r\n")

    def _whole(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def _stop(*_: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    try:
        ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    finally:
        remove_cache()
