"""Elasticsearch clients, built lazily once per process, and the translation of their failures.

Two clients of the official family, configured from the same settings:

- :func:`get_client`: the full ``elasticsearch`` client, for the loaders and the CLI
  (bulk helpers, index management);
- :func:`get_transport`: ``elastic_transport.Transport`` alone, for the search function.
  It makes three kinds of read; the full client's API layer costs ~150 ms of imports at
  every cold start and a measurable share of each request (docs/benchmarks.md). Its node
  class is Hermes' own over ``http.client`` (``hermes.node``), ~100 µs of CPU less per
  request than elastic_transport's urllib3 node; the loaders' full client keeps urllib3.

Every Elasticsearch failure becomes a Hermes error here and nowhere else: the HTTP
boundary (``hermes.responses``) and the operator CLI both call :func:`translate`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hermes.config import get_settings
from hermes.errors import BadRequestError, HermesError, UnavailableError, UpstreamTimeoutError

if TYPE_CHECKING:
    from elastic_transport import Transport
    from elasticsearch import Elasticsearch

    from hermes.settings import Settings

# Never hold a Knative request for long on a dead node: fail fast, answer 503.
_DEAD_NODE_BACKOFF_FACTOR = 0.5
_MAX_DEAD_NODE_BACKOFF_S = 2.0


class ElasticsearchStatusError(Exception):
    """An error status answered to a request made through :func:`get_transport`."""

    def __init__(self, status: int, body: object) -> None:
        super().__init__(f"Elasticsearch answered {status}")
        self.status = status
        self.body = body


def build_client(settings: Settings) -> Elasticsearch:
    """A client with explicit timeouts and retries (imported here: it costs ~0.2 s)."""
    from elasticsearch import Elasticsearch  # noqa: PLC0415 - kept off the import path
    from elasticsearch.serializer import OrjsonSerializer  # noqa: PLC0415

    kwargs: dict[str, Any] = {
        "request_timeout": settings.es_request_timeout_s,
        "max_retries": settings.es_max_retries,
        "retry_on_timeout": False,
        "dead_node_backoff_factor": _DEAD_NODE_BACKOFF_FACTOR,
        "max_dead_node_backoff": _MAX_DEAD_NODE_BACKOFF_S,
        # orjson: several times faster than json for bulk bodies and search answers.
        "serializer": OrjsonSerializer(),
    }
    if settings.es_api_key is not None:
        kwargs["api_key"] = settings.es_api_key.get_secret_value()
    elif settings.es_username is not None and settings.es_password is not None:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_ca_certs:
        kwargs["ca_certs"] = settings.es_ca_certs
    return Elasticsearch(settings.es_url, **kwargs)


@functools.cache
def get_client() -> Elasticsearch:
    """The process's client for the process's settings."""
    return build_client(get_settings())


# HTTP libraries elastic_transport probes for at import, for node classes the transport never uses
# (it talks through ``hermes.node``): ``requests`` alone (with charset_normalizer, http.cookiejar, email)
# cost the search function's cold start ~30 ms (docs/benchmarks.md).
_UNUSED_NODE_LIBRARIES = ("requests", "aiohttp", "httpx")


@contextlib.contextmanager
def _probe_hidden(names: tuple[str, ...]) -> Iterator[None]:
    """While inside, ``import <name>`` fails at once for each of ``names`` not imported yet.

    A ``None`` in ``sys.modules`` is Python's documented way to make an import raise
    ``ImportError``; elastic_transport catches it and marks that node class unavailable.
    Afterwards the names are importable again, as if nothing happened.
    """
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


def import_transport() -> None:
    """Import elastic_transport without its probes for unused HTTP libraries (a no-op once imported)."""
    if "elastic_transport" not in sys.modules:
        with _probe_hidden(_UNUSED_NODE_LIBRARIES):
            import elastic_transport  # noqa: F401, PLC0415


def build_transport(settings: Settings) -> Transport:
    """The transport layer alone, configured as :func:`build_client` configures the full client."""
    from dataclasses import replace  # noqa: PLC0415

    import_transport()
    from elastic_transport import OrjsonSerializer, Transport  # noqa: PLC0415 - kept off the import path
    from elastic_transport.client_utils import url_to_node_config  # noqa: PLC0415

    from hermes.node import HttpClientNode  # noqa: PLC0415 - imports elastic_transport

    node = url_to_node_config(settings.es_url)  # user:password in ES_URL becomes a Basic header here
    node = replace(
        node,
        request_timeout=settings.es_request_timeout_s,
        headers={**node.headers, **_auth_header(settings)},
        ca_certs=settings.es_ca_certs,
    )
    return Transport(
        [node],
        node_class=HttpClientNode,
        serializers={"application/json": OrjsonSerializer()},
        max_retries=settings.es_max_retries,
        retry_on_timeout=False,
        dead_node_backoff_factor=_DEAD_NODE_BACKOFF_FACTOR,
        max_dead_node_backoff=_MAX_DEAD_NODE_BACKOFF_S,
    )


def _auth_header(settings: Settings) -> dict[str, str]:
    if settings.es_api_key is not None:
        return {"authorization": f"ApiKey {settings.es_api_key.get_secret_value()}"}
    if settings.es_username is not None and settings.es_password is not None:
        pair = f"{settings.es_username}:{settings.es_password.get_secret_value()}".encode()
        return {"authorization": f"Basic {base64.b64encode(pair).decode()}"}
    return {}


_transport_lock = threading.Lock()


@functools.cache
def _cached_transport() -> Transport:
    return build_transport(get_settings())


def get_transport() -> Transport:
    """The process's transport; concurrent first callers wait for one build (it imports the package).

    Later calls take no lock: a lock taken on every request showed as waiting in the
    per-request profile (a holder descheduled at a GIL switch blocks the others).
    """
    if _cached_transport.cache_info().currsize:
        return _cached_transport()
    with _transport_lock:
        return _cached_transport()


def translate(exc: BaseException) -> HermesError | None:
    """Turn an Elasticsearch client exception into a Hermes error (None: not one).

    Looks the client's exception classes up in ``sys.modules``: a package that was never
    imported cannot have raised, and importing it here would cost a cold start.
    """
    transport, client = sys.modules.get("elastic_transport"), sys.modules.get("elasticsearch")
    if transport is not None and isinstance(exc, transport.ConnectionTimeout):
        return UpstreamTimeoutError("Elasticsearch did not answer in time")
    if transport is not None and isinstance(exc, transport.TransportError):
        return UnavailableError("Elasticsearch is unreachable")
    if isinstance(exc, ElasticsearchStatusError):
        return for_status(exc.status, error_type(exc.body))
    if client is not None and isinstance(exc, client.ApiError):
        return for_status(exc.meta.status, error_type(exc.body))
    return None


def for_status(status: int, kind: str) -> HermesError | None:
    """The Hermes error for an Elasticsearch answer with this status and error type (None: not one)."""
    if kind == "index_not_found_exception":
        return UnavailableError("the index does not exist yet: run a full load")
    if status == 400:
        return BadRequestError(f"Elasticsearch could not run this query ({kind})")
    if status in (408, 504):
        return UpstreamTimeoutError("Elasticsearch did not answer in time")
    if status in (401, 403):  # a configuration problem, not the caller's: retry after the fix
        return UnavailableError("Elasticsearch refused Hermes' credentials")
    if status == 429 or status >= 500:
        return UnavailableError(f"Elasticsearch is overloaded or recovering ({kind})")
    return None


def error_type(body: object) -> str:
    """The ``error.type`` of an Elasticsearch error body, or ``unknown``."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("type", "unknown"))
    return "unknown"
