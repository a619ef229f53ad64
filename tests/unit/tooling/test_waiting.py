"""The test helpers that wait for a server treat every transient failure as "not yet"."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.process import eventually, wait_live


class _Flaky(BaseHTTPRequestHandler):
    """Answers /health/live with a 503, then hangs past the client's timeout once, then 200."""

    answers: list[str]
    release: threading.Event

    def do_GET(self) -> None:
        kind = self.answers.pop(0) if self.answers else "ok"
        if kind == "hang":
            self.release.wait(10)  # the client has given up on this request already
        status = 503 if kind == "503" else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[tuple[str, type[_Flaky]]]:
    handler = type("Handler", (_Flaky,), {"answers": ["503", "hang", "503"], "release": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def alive() -> Iterator[subprocess.Popen[bytes]]:
    """A process that keeps running while the helper waits (wait_live stops waiting if it exits)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def test_wait_live_outlasts_5xx_and_a_read_timeout(flaky: tuple[str, type[_Flaky]], alive: Any) -> None:
    url, handler = flaky
    assert wait_live(url, alive, wait_s=60, request_timeout_s=0.2)
    assert handler.answers == []  # it went through every failure before the 200


def test_wait_live_gives_up_when_nothing_listens(alive: Any) -> None:
    assert not wait_live("http://127.0.0.1:9", alive, wait_s=0.3)


def test_eventually_counts_a_refused_connection_as_not_yet() -> None:
    import requests

    calls: list[int] = []

    def check() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise requests.ConnectionError
        return True

    assert eventually(check, wait_s=30)
    assert len(calls) == 3


def test_eventually_counts_an_elasticsearch_503_or_timeout_as_not_yet() -> None:
    from elastic_transport import ApiResponseMeta, ConnectionTimeout, HttpHeaders, NodeConfig
    from elasticsearch import ApiError

    meta = ApiResponseMeta(503, "1.1", HttpHeaders(), 0.01, NodeConfig("http", "127.0.0.1", 9200))
    errors: list[Exception] = [ApiError("search_phase_execution_exception", meta, {}), ConnectionTimeout("slow")]

    def check() -> bool:
        if errors:
            raise errors.pop(0)
        return True

    assert eventually(check, wait_s=30)
    assert errors == []


def test_eventually_lets_any_other_error_through() -> None:
    from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
    from elasticsearch import ApiError

    meta = ApiResponseMeta(400, "1.1", HttpHeaders(), 0.01, NodeConfig("http", "127.0.0.1", 9200))

    def check() -> bool:
        raise ApiError("mapper_parsing_exception", meta, {})

    with pytest.raises(ApiError):
        eventually(check, wait_s=30)
