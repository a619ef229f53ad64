"""The search function's Elasticsearch node: elastic_transport's ``BaseNode`` over ``http.client``.

elastic_transport sends every request through a *node class*; its default, ``Urllib3HttpNode``, cost the
search function ~110-140 µs of CPU per search more than this one (urllib3's pool, retry and timeout
objects, its response wrapper around ``http.client``'s own; ``bench/layers.py`` measures both side by side,
docs/benchmarks.md, "Where the search path's time goes"). :class:`HttpClientNode` keeps the node contract
(elastic-transport-python : elastic_transport/_node/_base.py, and _node/_http_urllib3.py, whose error
mapping and SSL set-up it follows) with the standard library alone:

- ``perform_request(method, target, body, headers, request_timeout)`` answers a ``NodeApiResponse``
  (``ApiResponseMeta`` with ``HttpHeaders``, the whole body read, gunzipped if Elasticsearch gzipped it);
- connection failures raise ``elastic_transport.ConnectionError``, timeouts ``ConnectionTimeout`` and TLS
  failures ``TlsError``, each with its cause in ``errors`` and as ``__cause__``, so the transport's retries
  and dead-node marking and Hermes' 503/504 mapping (``hermes.client.translate``) work as before;
- ``http`` and ``https`` (the SSL context built by elastic_transport's own
  ``ssl_context_from_node_config``, with the node's CA file, verification and client certificate);
- the request body gzipped when the transport asks for ``http_compress``;
- the timeout is the request's, else the node's, per socket operation (connect, each send and read).

``http.client.HTTPConnection`` connects (TCP_NODELAY; TLS with the server's name) and
``http.client.HTTPResponse`` reads each answer (status line, headers, ``content-length`` or chunked body,
``HEAD``, ``Connection: close``): the hard half of HTTP/1.1 stays the standard library's. The request is
written here, line, headers and body in one ``sendall`` (``HTTPConnection.request`` makes two sends and
checks each header in calls of its own).

Only the search function uses it (``hermes.client.build_transport``); the loaders keep the full
``elasticsearch`` client over urllib3: their bulk requests are few and large, so the per-request saving is
noise for them, and urllib3 stays the well-trodden path for the heavy writes.

Threads: gunicorn's gthread worker calls ``perform_request`` from any of its ``THREADS`` threads (and the
analytics recorder from its own). Idle keep-alive connections wait in a ``deque`` (appends and pops are
thread-safe); a thread pops one (or opens one), owns it for the whole exchange, and puts it back once the
answer is read. At most ``connections_per_node`` idle connections are kept; more threads at once open more
connections rather than wait for one.

A kept connection may have been closed by the server meanwhile (an idle timeout, a proxy, a restart). Before
reuse, an idle connection with something to read (its end of stream) is dropped, as urllib3 checks its pooled
ones. One closed between that check and the request is replaced and the request sent again on a new
connection only when that cannot repeat a write: the send itself failed (the server never took the request), or
the request only reads (``GET``, ``HEAD``, ``_search``, ``_count``, ``_mget``…). A write the server may have read
(the analytics recorder's ``_bulk``) fails instead, to the transport's own retry policy.
"""

from __future__ import annotations

import gzip
import http.client
import logging
import re
import select
import socket
import ssl
import time
import warnings
import weakref
from collections import deque
from typing import TYPE_CHECKING

from elastic_transport import (
    ApiResponseMeta,
    BaseNode,
    ConnectionError,
    ConnectionTimeout,
    HttpHeaders,
    NodeConfig,
    SecurityWarning,
    TlsError,
    TransportError,
)
from elastic_transport._node._base import DEFAULT_CA_CERTS, NodeApiResponse, ssl_context_from_node_config
from elastic_transport.client_utils import DEFAULT, DefaultType

if TYPE_CHECKING:
    from collections.abc import Mapping

# elastic_transport logs every request and answer here when someone attaches a handler (debugging).
_request_log = logging.getLogger("elastic_transport.node")

_UNSAFE_TARGET = re.compile(r"[\x00-\x20\x7f-\xff]")  # would end or split the request line, or is not ASCII

# Failures that mean a kept connection was closed by the server: while we sent (it never took the request),
# or at the answer's status line (it may have read the request, even acted on it, before closing).
_CLOSED = (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError)
_CLOSED_AT_ANSWER = (*_CLOSED, http.client.RemoteDisconnected)

# Endpoints that only read, whatever their method: sending one of them twice changes nothing.
_READS = frozenset({"_search", "_msearch", "_count", "_mget", "_field_caps", "_validate"})


class HttpClientNode(BaseNode):
    """An Elasticsearch node reached with ``http.client``, keep-alive connections reused across threads."""

    def __init__(self, config: NodeConfig) -> None:
        super().__init__(config)
        self._ssl_context = _ssl_context(config) if config.scheme == "https" else None
        self._idle: deque[http.client.HTTPConnection] = deque()
        # A node dropped without close() (a transport cache cleared) closes its connections, as urllib3's pool does.
        weakref.finalize(self, _close_all, self._idle)
        self._max_idle = config.connections_per_node
        self._closed = False
        # The node's own headers (host, user agent, keep-alive, credentials), lower-cased once.
        self._base_headers = {"host": _host_header(config), **{k.lower(): v for k, v in self.headers.items()}}

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: DefaultType | float | None = DEFAULT,
    ) -> NodeApiResponse:
        """Send one request and read its whole answer (elastic_transport's node contract)."""
        target = self.path_prefix + target
        timeout = self.config.request_timeout if isinstance(request_timeout, DefaultType) else request_timeout
        sent_headers = dict(self._base_headers)
        if headers:
            sent_headers.update((name.lower(), value) for name, value in headers.items())
        if body and self._http_compress:
            body = gzip.compress(body)
            sent_headers["content-encoding"] = "gzip"
        request = _request_bytes(method, target, sent_headers, body)
        started = time.time()
        try:
            status, answer_headers, data = self._exchange(method, target, request, timeout)
        except (OSError, http.client.HTTPException) as exc:
            err = _transport_error(exc)
            self._log(method, target, sent_headers, body, exception=err)
            raise err from exc
        meta = ApiResponseMeta(
            node=self.config,
            duration=time.time() - started,
            http_version="1.1",
            status=status,
            headers=answer_headers,
        )
        self._log(method, target, sent_headers, body, meta=meta, response=data)
        return NodeApiResponse(meta, data)

    def close(self) -> None:
        """Close the idle connections; those in use close when their answer is read."""
        self._closed = True
        _close_all(self._idle)

    def _exchange(
        self, method: str, target: str, request: bytes, timeout: float | None
    ) -> tuple[int, HttpHeaders, bytes]:
        """One request and its answer on a kept or new connection.

        A kept connection found closed is replaced and the request sent again on a new one when that cannot
        repeat a write: the server closed it before taking the request (the send failed), or the request only
        reads (:func:`_reads_only`). Otherwise the failure is the caller's (the transport's own retry policy).
        """
        conn, kept = self._checkout(timeout)
        try:
            try:
                _write(conn, request)
            except _CLOSED:
                if not kept:
                    raise
                conn.close()
                kept = False
                _write(conn, request)
            try:
                response = _read_head(conn, method)
            except _CLOSED_AT_ANSWER:
                if not (kept and _reads_only(method, target)):
                    raise
                conn.close()
                _write(conn, request)
                response = _read_head(conn, method)
            try:
                data = response.read()
            finally:
                response.close()  # its reader holds the socket; already closed once read whole
            answer_headers = HttpHeaders(response.getheaders())
            if answer_headers.get("content-encoding") == "gzip":
                data = gzip.decompress(data)
        except BaseException:
            conn.close()
            raise
        self._checkin(conn, response.will_close)
        return response.status, answer_headers, data

    def _checkout(self, timeout: float | None) -> tuple[http.client.HTTPConnection, bool]:
        """A connection for one exchange, and whether it is a kept one (already connected).

        A kept connection the server has closed meanwhile (readable while idle: its end of stream, or bytes
        nobody asked for) is dropped before any request goes out on it, as urllib3 checks its pooled ones.
        """
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                return self._connection(timeout), False
            if conn.sock is not None and not _readable(conn.sock):
                break
            conn.close()
        if conn.timeout != timeout:
            conn.timeout = timeout
            conn.sock.settimeout(timeout)
        return conn, True

    def _checkin(self, conn: http.client.HTTPConnection, will_close: bool) -> None:
        if will_close or self._closed or len(self._idle) >= self._max_idle:
            conn.close()
            return
        self._idle.append(conn)
        if self._closed:  # close() ran meanwhile: it may have drained the idle ones before this one came back
            self.close()

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._ssl_context is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self._ssl_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _log(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        meta: ApiResponseMeta | None = None,
        response: bytes | None = None,
        exception: Exception | None = None,
    ) -> None:
        if _request_log.hasHandlers():  # elastic_transport's debug log, built only when someone listens
            self._log_request(method, target, HttpHeaders(headers), body, meta, response, exception)


def _close_all(idle: deque[http.client.HTTPConnection]) -> None:
    while idle:
        idle.pop().close()


def _request_bytes(method: str, target: str, headers: dict[str, str], body: bytes | None) -> bytes:
    """The request line, headers and body, to be sent in one write.

    ``http.client``'s ``HTTPConnection.request`` writes the headers and the body in two sends and checks
    and encodes each header in a call of its own. Here the whole head is checked at once for what would
    split the request, as ``http.client`` refuses it: control characters or spaces in the target, a CR,
    LF or NUL in a header (each line brings exactly one CR LF of its own).
    """
    if body:
        headers["content-length"] = str(len(body))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    lines = len(headers) + 1
    if _UNSAFE_TARGET.search(target) or head.count("\r") != lines or head.count("\n") != lines or "\0" in head:
        msg = f"refusing to send a request that a control character would split: {method} {target!r}"
        raise ValueError(msg)
    request = head.encode("latin-1") + b"\r\n"
    return request + body if body else request


def _write(conn: http.client.HTTPConnection, request: bytes) -> None:
    """Send ``request`` on ``conn``, connecting it first if needed (TCP_NODELAY, TLS with the server name)."""
    if conn.sock is None:
        conn.connect()
    conn.sock.sendall(request)


def _read_head(conn: http.client.HTTPConnection, method: str) -> http.client.HTTPResponse:
    """The answer's status line and headers; ``HTTPResponse`` reads the rest (length or chunked body,
    ``HEAD``, ``Connection: close``)."""
    response = http.client.HTTPResponse(conn.sock, method=method)
    try:
        response.begin()
    except BaseException:
        response.close()  # its reader holds the socket open (as HTTPConnection.getresponse closes it)
        raise
    return response


def _readable(sock: socket.socket) -> bool:
    """Whether an idle connection has something to read: the server closed it (or broke the protocol)."""
    return bool(select.select([sock], [], [], 0)[0])


def _reads_only(method: str, target: str) -> bool:
    """Whether the request only reads (``GET``, ``HEAD``, or a search, count or multi-get by ``POST``)."""
    if method in ("GET", "HEAD"):
        return True
    return target.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] in _READS


def _host_header(config: NodeConfig) -> str:
    """``Host``, as ``http.client`` writes it: the port only when not the scheme's default."""
    host = f"[{config.host}]" if ":" in config.host else config.host
    return host if config.port == (443 if config.scheme == "https" else 80) else f"{host}:{config.port}"


def _ssl_context(config: NodeConfig) -> ssl.SSLContext:
    """The context ``Urllib3HttpNode`` would build for ``config`` (elastic_transport/_node/_http_urllib3.py)."""
    if config.ssl_assert_fingerprint or config.ssl_assert_hostname:
        msg = "ssl_assert_fingerprint and ssl_assert_hostname need elastic_transport's urllib3 node"
        raise ValueError(msg)
    context = ssl_context_from_node_config(config)
    if config.ssl_context is None and config.verify_certs:
        # elastic_transport leaves check_hostname off for an IP address because urllib3 matches the IP itself;
        # http.client does not, and Python matches an IP in the certificate's subjectAltName when it is on.
        context.check_hostname = True
    if not config.verify_certs and config.ssl_show_warn:
        warnings.warn(
            f"Connecting to {config.host!r} using TLS with verify_certs=False is insecure", SecurityWarning, 2
        )
    if config.ssl_context is None and config.verify_certs:
        ca_certs = config.ca_certs or DEFAULT_CA_CERTS
        if not ca_certs:
            msg = "no CA certificates to verify Elasticsearch with: set ES_CA_CERTS or install certifi"
            raise ValueError(msg)
        context.load_verify_locations(cafile=ca_certs)
    if config.client_cert:
        context.load_cert_chain(config.client_cert, config.client_key)
    return context


def _transport_error(exc: OSError | http.client.HTTPException) -> TransportError:
    """elastic_transport's error for a failed exchange, as ``Urllib3HttpNode`` maps urllib3's."""
    if isinstance(exc, TimeoutError):
        return ConnectionTimeout("Connection timed out during request", errors=(exc,))
    if isinstance(exc, ssl.SSLError):  # certificate verification failures included
        return TlsError(str(exc), errors=(exc,))
    return ConnectionError(str(exc) or type(exc).__name__, errors=(exc,))
