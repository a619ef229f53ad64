"""The search function's node over ``http.client`` (hermes.node), against small local servers.

Each server is a raw socket on loopback that records what it received and answers as told, so a test can
close a kept connection, never answer, or answer over TLS, and see the node's requests byte for byte.
"""

from __future__ import annotations

import gc
import gzip
import http.client
import select
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from elastic_transport import (
    ConnectionError,
    ConnectionTimeout,
    HttpHeaders,
    NodeConfig,
    TlsError,
    Transport,
)

from hermes.client import build_transport, translate
from hermes.node import HttpClientNode
from hermes.settings import Settings

OK = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'


@dataclass
class Request:
    """One request as the server read it."""

    head: str
    body: bytes

    def header(self, name: str) -> str | None:
        for line in self.head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name:
                return value.strip()
        return None


class Closing(bytes):
    """An answer after which the server closes the connection (it may be cut short)."""


Answer = Callable[[Request, int], bytes | None]  # (request, its number on the connection) → bytes; None: close


@dataclass
class Server:
    """What a test server saw: its port, one list of requests per connection accepted."""

    port: int
    connections: list[list[Request]] = field(default_factory=list)
    hung_up: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))  # a client closed one


def _read_request(conn: socket.socket, buffer: bytearray) -> Request | None:
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    request = Request(head.decode("latin-1"), b"")
    length = int(request.header("content-length") or 0)
    while len(rest) < length:
        rest += conn.recv(65536)
    request.body, buffer[:] = rest[:length], rest[length:]
    return request


def _serve_connection(conn: socket.socket, answer: Answer, seen: list[Request], hung_up: threading.Semaphore) -> None:
    buffer = bytearray()
    with conn:
        while (request := _read_request(conn, buffer)) is not None:
            seen.append(request)
            reply = answer(request, len(seen))
            if reply is None:
                return
            conn.sendall(reply)
            if isinstance(reply, Closing):
                return
        hung_up.release()


@contextmanager
def serve(answer: Answer, tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """A server on loopback answering each request with ``answer``, until the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    server = Server(listener.getsockname()[1])

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
                if tls is not None:
                    conn = tls.wrap_socket(conn, server_side=True)
            except OSError:  # the listener closed, or a client refused our certificate
                if listener.fileno() == -1:
                    return
                continue
            server.connections.append([])
            threading.Thread(
                target=_serve_connection, args=(conn, answer, server.connections[-1], server.hung_up), daemon=True
            ).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        listener.close()


Node = Callable[..., HttpClientNode]


@pytest.fixture
def node() -> Iterator[Node]:
    """``node(port, scheme="http", **config)``: a node to 127.0.0.1, its connections closed after the test."""
    made: list[HttpClientNode] = []

    def build(port: int, scheme: str = "http", **config: object) -> HttpClientNode:
        made.append(HttpClientNode(NodeConfig(scheme, "127.0.0.1", port, request_timeout=5, **config)))  # type: ignore[arg-type]
        return made[-1]

    yield build
    for one in made:
        one.close()


@pytest.fixture
def transport() -> Iterator[Callable[[Settings], Transport]]:
    """``transport(settings)``: Hermes' search transport, closed after the test."""
    made: list[Transport] = []

    def build(settings: Settings) -> Transport:
        made.append(build_transport(settings))
        return made[-1]

    yield build
    for one in made:
        one.close()


def test_a_request_and_its_answer_on_one_kept_connection(node: Node) -> None:
    with serve(lambda _request, _n: OK) as server:
        es = node(server.port, headers={"authorization": "ApiKey a2V5"})
        headers = HttpHeaders({"Content-Type": "application/json", "accept": "application/json"})
        first = es.perform_request("POST", "/docs/_search", body=b'{"size":1}', headers=headers)
        es.perform_request("GET", "/docs/_doc/1", headers=HttpHeaders({"accept": "application/json"}))
    assert (first.meta.status, first.body, first.meta.mimetype) == (200, b'{"ok":true}', "application/json")
    assert first.meta.headers["Content-Length"] == "11"
    assert len(server.connections) == 1  # the second request reused the first's connection
    posted, got = server.connections[0]
    assert posted.head.startswith("POST /docs/_search HTTP/1.1\r\n")
    assert posted.body == b'{"size":1}'
    assert [posted.header(n) for n in ("host", "content-type", "content-length", "authorization")] == [
        f"127.0.0.1:{server.port}",
        "application/json",
        "10",
        "ApiKey a2V5",
    ]
    assert got.head.startswith("GET /docs/_doc/1 HTTP/1.1\r\n")
    assert (got.body, got.header("content-length")) == (b"", None)


def test_a_kept_connection_the_server_closed_is_replaced_and_the_request_sent_again(node: Node) -> None:
    # The server answers once per connection, then closes it without saying so (as an idle timeout does).
    with serve(lambda _request, n: OK if n == 1 else None) as server:
        es = node(server.port)
        answers = [es.perform_request("GET", f"/{i}").meta.status for i in range(3)]
    assert answers == [200, 200, 200]
    assert [[r.head.split()[1] for r in conn] for conn in server.connections] == [["/0", "/1"], ["/1", "/2"], ["/2"]]


def test_a_new_connection_closed_before_answering_is_a_connection_error_not_resent(node: Node) -> None:
    with serve(lambda _request, _n: None) as server, pytest.raises(ConnectionError) as raised:
        node(server.port).perform_request("GET", "/")
    assert len(server.connections) == 1
    assert isinstance(raised.value.errors[0], http.client.RemoteDisconnected)
    assert raised.value.__cause__ is raised.value.errors[0]


def test_no_answer_in_time_is_a_connection_timeout(node: Node) -> None:
    silent = threading.Event()

    def never(_request: Request, _n: int) -> None:
        silent.wait(5)  # then closes

    with serve(never) as server:
        with pytest.raises(ConnectionTimeout) as raised:
            node(server.port).perform_request("GET", "/", request_timeout=0.2)
        silent.set()
    assert isinstance(raised.value.errors[0], TimeoutError)
    assert translate(raised.value) is not None
    assert translate(raised.value).status == 504  # type: ignore[union-attr]


def test_nothing_listening_is_a_connection_error_that_hermes_answers_with_503(node: Node) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    with pytest.raises(ConnectionError) as raised:
        node(port).perform_request("GET", "/")
    assert isinstance(raised.value.errors[0], ConnectionRefusedError)
    assert translate(raised.value).status == 503  # type: ignore[union-attr]


def test_compressed_requests_and_answers(node: Node) -> None:
    zipped = gzip.compress(b'{"hits":[]}')
    answer = b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s" % (len(zipped), zipped)
    with serve(lambda _request, _n: answer) as server:
        es = node(server.port, http_compress=True)
        resp = es.perform_request("POST", "/_search", body=b'{"query":{}}', headers=HttpHeaders())
    request = server.connections[0][0]
    assert (request.header("content-encoding"), request.header("accept-encoding")) == ("gzip", "gzip")
    assert gzip.decompress(request.body) == b'{"query":{}}'
    assert resp.body == b'{"hits":[]}'


def test_chunked_and_head_answers_keep_the_connection(node: Node) -> None:
    chunked = b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n"  # HEAD: the length of a body not sent
    with serve(lambda request, _n: head if request.head.startswith("HEAD") else chunked) as server:
        es = node(server.port)
        assert es.perform_request("GET", "/a").body == b'{"a":1}'
        assert es.perform_request("HEAD", "/_alias/x").body == b""
        assert es.perform_request("GET", "/b").body == b'{"a":1}'
    assert len(server.connections) == 1


def test_connection_close_is_honoured(node: Node) -> None:
    closing = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    with serve(lambda _request, _n: closing) as server:
        es = node(server.port)
        for _ in range(2):
            assert es.perform_request("GET", "/").meta.status == 200
    assert [len(conn) for conn in server.connections] == [1, 1]


@pytest.mark.parametrize("target", ["/a b", "/a\r\nx: y", "/a\x00"])
def test_a_target_that_would_split_the_request_is_refused(node: Node, target: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        node(9).perform_request("GET", target)


def test_a_header_that_would_split_the_request_is_refused(node: Node) -> None:
    with pytest.raises(ValueError, match="control character"):
        node(9).perform_request("GET", "/", headers=HttpHeaders({"x-a": "b\r\nx-injected: 1"}))


def test_concurrent_threads_share_the_kept_connections(node: Node) -> None:
    with serve(lambda _request, _n: OK) as server:
        es = node(server.port, connections_per_node=4)
        errors: list[BaseException] = []

        def many() -> None:
            try:
                for _ in range(50):
                    assert es.perform_request("GET", "/").body == b'{"ok":true}'
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=many) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        es.close()
    assert errors == []
    assert sum(len(conn) for conn in server.connections) == 400
    assert len(server.connections) <= 8  # a thread opens one only when none is idle


def test_the_transport_retries_a_connection_error_on_the_node_then_hermes_answers_503(
    transport: Callable[[Settings], Transport],
) -> None:
    with serve(lambda _request, _n: None) as server:
        es = transport(Settings(ES_URL=f"http://127.0.0.1:{server.port}", HERMES_ES_MAX_RETRIES=1))
        with pytest.raises(ConnectionError) as raised:
            es.perform_request("GET", "/")
    assert len(server.connections) == 2  # the transport's one retry
    assert translate(raised.value).status == 503  # type: ignore[union-attr]


def _self_signed(folder: Path, names: str) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for ``names`` (subjectAltName) and its key, made with ``openssl``."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hermes-test"),
            *("-addext", f"subjectAltName={names}", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and its key."""
    return _self_signed(tmp_path_factory.mktemp("tls"), "IP:127.0.0.1")


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[Server]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with serve(lambda _request, _n: OK, tls=context) as server:
        yield server


def test_https_with_the_configured_ca(
    transport: Callable[[Settings], Transport], tls_server: Server, certificate: tuple[Path, Path]
) -> None:
    es = transport(Settings(ES_URL=f"https://127.0.0.1:{tls_server.port}", ES_CA_CERTS=str(certificate[0])))
    for _ in range(2):
        assert es.perform_request("GET", "/").body == {"ok": True}
    assert len(tls_server.connections) == 1


def test_https_refuses_a_certificate_no_configured_ca_signed(node: Node, tls_server: Server) -> None:
    with pytest.raises(TlsError) as raised:
        node(tls_server.port, "https").perform_request("GET", "/")
    assert isinstance(raised.value.errors[0], ssl.SSLCertVerificationError)
    assert translate(raised.value).status == 503  # type: ignore[union-attr]


def test_https_checks_that_the_certificate_names_the_ip_address_connected_to(
    transport: Callable[[Settings], Transport], tmp_path: Path
) -> None:
    # A certificate its CA vouches for (self-signed: its own CA), issued for another address than 127.0.0.1.
    cert, key = _self_signed(tmp_path, "IP:10.9.9.9,DNS:other.example")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve(lambda _request, _n: OK, tls=context) as server:
        es = transport(Settings(ES_URL=f"https://127.0.0.1:{server.port}", ES_CA_CERTS=str(cert)))
        with pytest.raises(TlsError) as raised:
            es.perform_request("GET", "/")
    assert "IP address mismatch" in str(raised.value)


@pytest.mark.parametrize("option", [{"ssl_assert_fingerprint": "00" * 32}, {"ssl_assert_hostname": "es.example"}])
def test_tls_options_only_urllib3_supports_are_refused_not_ignored(node: Node, option: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="urllib3 node"):
        node(9200, "https", **option)


def test_an_answer_cut_short_is_a_connection_error_and_its_connection_dropped(node: Node) -> None:
    cut = Closing(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"partial')
    answers = iter([cut, OK])
    with serve(lambda _request, _n: next(answers)) as server:
        es = node(server.port)
        with pytest.raises(ConnectionError) as raised:
            es.perform_request("GET", "/")
        assert isinstance(raised.value.errors[0], http.client.IncompleteRead)
        assert es.perform_request("GET", "/").meta.status == 200  # the same node, on a new connection
    assert [len(conn) for conn in server.connections] == [1, 1]


def test_a_kept_connection_gets_the_timeout_of_each_request(node: Node) -> None:
    silent = threading.Event()

    def then_silent(_request: Request, n: int) -> bytes | None:
        if n == 1:
            return OK
        silent.wait(5)
        return None

    with serve(then_silent) as server:
        es = node(server.port)  # 5 s by default
        assert es.perform_request("GET", "/").meta.status == 200
        with pytest.raises(ConnectionTimeout):
            es.perform_request("GET", "/", request_timeout=0.2)
        silent.set()
    assert [len(conn) for conn in server.connections] == [2]  # the kept connection, with the shorter timeout


def test_a_kept_connection_closed_while_idle_is_dropped_before_any_request_goes_out_on_it(node: Node) -> None:
    closing_after = Closing(OK)  # the server answers, then closes the connection (an idle timeout, say)
    with serve(lambda _request, _n: closing_after) as server:
        es = node(server.port)
        assert es.perform_request("GET", "/0").meta.status == 200
        assert server.hung_up.acquire(timeout=0) is False  # the server closed it: the client has not yet
        # Wait until the server's close has reached the client (its end of stream readable), as after an idle timeout.
        assert select.select([es._idle[0].sock], [], [], 10)[0]
        es.perform_request(
            "POST", "/_bulk", body=b"{}\n", headers=HttpHeaders({"content-type": "application/x-ndjson"})
        )
    assert [[r.head.split()[1] for r in conn] for conn in server.connections] == [["/0"], ["/_bulk"]]


def test_a_write_the_server_read_before_closing_is_not_sent_again(node: Node) -> None:
    # The server answers the first request, then reads the second and closes without answering: a write it
    # may have acted on. Sending it again could index the same events twice, so it is the caller's failure.
    with serve(lambda _request, n: OK if n == 1 else None) as server:
        es = node(server.port)
        es.perform_request("GET", "/")
        with pytest.raises(ConnectionError):
            es.perform_request("POST", "/events/_bulk", body=b"{}\n", headers=HttpHeaders())
    assert [[r.head.split()[1] for r in conn] for conn in server.connections] == [["/", "/events/_bulk"]]


def test_a_node_dropped_without_close_closes_its_connections() -> None:
    with serve(lambda _request, _n: OK) as server:
        es = HttpClientNode(NodeConfig("http", "127.0.0.1", server.port))
        es.perform_request("GET", "/")
        del es  # as when a cached transport is forgotten
        gc.collect()
        assert server.hung_up.acquire(timeout=10)
