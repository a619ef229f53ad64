"""A real HTTP data source for tests: records the test mutates, every body format, failures.

Runs ``http.server`` on a free loopback port in a thread.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from hermes.timestamps import parse_rfc3339


@dataclass
class SourceBehaviour:
    """What the server does; tests flip these while it runs."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: list[Any] = field(default_factory=list)  # raw items appended as-is (invalid records)
    fmt: str = "array"  # array | ndjson | pages
    page_size: int = 3
    token: str | None = None
    fail_next: int = 0  # answer 503 this many times
    status: int = 200  # a persistent status (e.g. 500: the source is down)
    die_after: int | None = None  # close the connection after this many records
    garbage: bool = False  # answer invalid JSON
    raw_body: bytes | None = None  # answer exactly this, with status 200 and raw_type
    raw_type: str = "application/json"
    retry_after: str | None = None  # sent with the fail_next 503s
    trickle_s: float = 0.0  # send the body a byte at a time, this far apart
    pause_after: int | None = None  # requests past this many close the gate and wait there (mid-stream)
    reset_after: int | None = None  # send this many records, then reset the connection (TCP RST)
    honour_partitions: bool = True  # answer ?partition=i&partitions=n with partition i only
    page_delay_s: float = 0.0  # a slow source: wait this long before each page
    # A load stays in its source read while the gate is closed: tests close it, check what
    # happens meanwhile, and open it (no sleeps). `arrived` is set by every request.
    gate: threading.Event = field(default_factory=lambda: _opened(threading.Event()))
    arrived: threading.Event = field(default_factory=threading.Event)
    open_connections: int = 0  # client connections the server holds (keep-alive included)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self) -> None:
        """Close the gate: requests wait until :meth:`release`."""
        self.arrived.clear()
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def put(self, *records: dict[str, Any]) -> None:
        with self.lock:
            for r in records:
                self.records[r["id"]] = r

    def current(self, since: str | None) -> list[Any]:
        with self.lock:
            items: list[Any] = list(self.records.values())
        if since is not None:
            floor = parse_rfc3339(since)
            items = [r for r in items if parse_rfc3339(r["updated_at"]) >= floor]
        return items + list(self.extra)


def _handler(state: SourceBehaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            with state.lock:
                state.open_connections += 1

        def finish(self) -> None:
            with state.lock:
                state.open_connections -= 1
            super().finish()

        def do_GET(self) -> None:
            state.requests.append(self.path)
            state.arrived.set()
            if state.pause_after is not None and len(state.requests) > state.pause_after:
                state.gate.clear()
            state.gate.wait(timeout=60)
            if state.token and self.headers.get("Authorization") != f"Bearer {state.token}":
                self._send(401, b'{"error":"unauthorized"}')
                return
            if state.fail_next > 0:
                state.fail_next -= 1
                extra = {"Retry-After": state.retry_after} if state.retry_after else {}
                self._send(503, b'{"error":"busy"}', headers=extra)
                return
            if state.status != 200:
                self._send(state.status, b'{"error":"down"}')
                return
            if state.raw_body is not None:
                self._send(200, state.raw_body, state.raw_type)
                return
            if state.garbage:
                self._send(200, b'[{"id": "a", "updated_at": ')
                return
            query = parse_qs(urlsplit(self.path).query)
            items = state.current(query.get("since", [None])[0])
            if state.honour_partitions and "partitions" in query:
                items = in_partition(items, int(query["partition"][0]), int(query["partitions"][0]))
            time.sleep(state.page_delay_s)
            if state.reset_after is not None:
                self._die(items[: state.reset_after], reset=True)
            elif state.die_after is not None:
                self._die(items[: state.die_after])
            elif state.fmt == "ndjson":
                body = b"".join(json.dumps(r).encode() + b"\n" for r in items)
                self._send(200, body, "application/x-ndjson")
            elif state.fmt == "pages":
                self._page(items, int(query.get("offset", ["0"])[0]), query)
            else:
                self._send(200, json.dumps(items).encode())

        def _page(self, items: list[Any], offset: int, query: dict[str, list[str]]) -> None:
            chunk = items[offset : offset + state.page_size]
            more = offset + state.page_size < len(items)
            # A relative `next`, as the contract allows, keeping `since` and the partition.
            kept = {k: v[0] for k, v in query.items() if k in ("since", "partition", "partitions")}
            nxt = "?" + urlencode({"offset": offset + state.page_size, **kept})
            self._send(200, json.dumps({"items": chunk, "next": nxt if more else None}).encode())

        def _die(self, items: list[Any], *, reset: bool = False) -> None:
            """Promise more than is sent, then close the connection: cleanly (FIN) or with a reset (RST)."""
            body = b"[" + b",".join(json.dumps(r).encode() for r in items)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            if reset:
                # SO_LINGER on with a zero timeout: close() sends RST instead of FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()

        def _send(
            self, status: int, body: bytes, ctype: str = "application/json", headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if not state.trickle_s:
                self.wfile.write(body)
                return
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(state.trickle_s)

    return Handler


@contextmanager
def serve(state: SourceBehaviour | None = None) -> Iterator[tuple[str, SourceBehaviour]]:
    """Run a data source; yield its URL and the behaviour object to mutate."""
    state = state or SourceBehaviour()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    # A short poll interval: shutdown() returns within ~10 ms instead of the default 0.5 s.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/records", state
    finally:
        server.shutdown()
        server.server_close()


def in_partition(items: list[Any], partition: int, partitions: int) -> list[Any]:
    """The items of one partition: a stable hash of the id, so every record is in exactly one."""
    return [r for r in items if _bucket(r, partitions) == partition]


def _bucket(item: Any, partitions: int) -> int:
    rid = str(item.get("id")) if isinstance(item, dict) else json.dumps(item)
    return int.from_bytes(hashlib.sha256(rid.encode()).digest()[:8], "big") % partitions


def _opened(event: threading.Event) -> threading.Event:
    event.set()
    return event


def record(rid: str, updated_at: datetime | str, **fields: Any) -> dict[str, Any]:
    """A valid record (builder for readable tests)."""
    when = updated_at if isinstance(updated_at, str) else updated_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "id": rid,
        "updated_at": when,
        "title": f"Title {rid}",
        "content": f"Content of {rid}",
        "tags": [],
        **fields,
    }
