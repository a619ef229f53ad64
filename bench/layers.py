"""Where the search function's CPU goes, layer by layer, for one caller (run as ``python -m bench.layers``).

Run in a process of its own with the function's environment (``ES_URL``, ``ES_INDEX``); prints one JSON
object. The same ``/search?q=<QUERY>`` is made, alternating, through ever more of the function's stack,
all in this process, against the real Elasticsearch:

- ``transport``: the ``_search`` body the function sends, through ``hermes.client.get_transport()``
  (elastic_transport over ``http.client`` with Hermes' node, ``hermes.node``; orjson both ways): the
  Elasticsearch client's own share;
- ``transport_urllib3``: the same through the same transport's settings with elastic_transport's own
  urllib3 node (what the search function used before ``hermes.node``), for comparison only;
- ``handler``: ``hermes.search.app.handle_search`` on a werkzeug request (parameters, query building,
  the transport, the answer's body and headers);
- ``framework``: functions-framework's Flask app (``create_app``) called as a WSGI application, as
  gunicorn calls it (execution id, Flask's request context and routing, the response).

Hermes' own work, without Elasticsearch: the transport answers Elasticsearch's answer to that body, read
once and parsed afresh (orjson) at each call, either at once or after sleeping as long as the real
exchange took (its median wall time):

- ``stored``, ``stored_waited``: that answer alone;
- ``handler_stored``, ``handler_stored_waited``: ``handler`` over it.

``handler_stored - stored`` is Hermes' code in a hot loop; ``handler_stored_waited - stored_waited`` is
the same code run, as in the function, after a wait on the network: the CPU's caches are cold by then
(other processes, Elasticsearch among them, ran meanwhile) and the same work cost 1.7-3.9× as much on the
2-core benchmark machine: that, not more requests or parsing, is most of ``handler - transport``.

What the process around it adds (gunicorn's gthread worker: HTTP parsing, the hand-over of each
keep-alive connection between its poller and its threads, the kernel's socket work) is the function's
CPU per request measured through HTTP minus ``framework``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from unittest import mock

import orjson
from werkzeug.test import EnvironBuilder

from bench.checks import expect

if TYPE_CHECKING:
    from elastic_transport import Transport, TransportApiResponse

ROUNDS = 5
PER_ROUND = 300


def per_call_us(call: Callable[[], object], n: int) -> float:
    """Process CPU (user + system) per call of ``call``, in µs."""
    started = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - started) / n * 1e6


def layers(query: str, rounds: int = ROUNDS, per_round: int = PER_ROUND) -> dict[str, Any]:
    """CPU per call of each layer, medians of ``rounds`` alternating rounds (and the rounds)."""
    import functions_framework  # noqa: PLC0415 - after the environment is the function's
    from flask import Request  # noqa: PLC0415

    from hermes.client import get_transport  # noqa: PLC0415
    from hermes.config import get_settings  # noqa: PLC0415
    from hermes.search.app import handle_search  # noqa: PLC0415
    from hermes.search.params import parse_search  # noqa: PLC0415
    from hermes.search.query import search_body  # noqa: PLC0415

    app = functions_framework.create_app(target="search", source="functions/search/main.py")  # type: ignore[no-untyped-call]
    environ = EnvironBuilder(path="/search", query_string={"q": query}).get_environ()
    settings = get_settings()
    body = search_body(parse_search(Request(environ).args), settings.search_timeout_ms)
    headers = {"accept": "application/json", "content-type": "application/json"}
    target = f"/{settings.es_index}/_search"

    ours = get_transport()
    urllib3 = _with_urllib3_node(ours)

    def transport() -> None:
        status = ours.perform_request("POST", target, body=body, headers=headers).meta.status
        expect(status == 200, f"Elasticsearch answered {status}")

    def transport_urllib3() -> None:
        status = urllib3.perform_request("POST", target, body=body, headers=headers).meta.status
        expect(status == 200, f"Elasticsearch answered {status}")

    def handler() -> None:
        status = handle_search(Request(dict(environ))).status_code
        expect(status == 200, f"the handler answered {status}")

    def framework() -> None:
        answered: list[str] = []
        b"".join(app(dict(environ), lambda status, _headers, _exc=None: answered.append(status)))
        expect(answered[:1] == ["200 OK"], f"the function answered {answered}")

    stored, stored_waited = _stored_answers(ours, target, body, headers)

    def handler_over(answer: Callable[..., TransportApiResponse]) -> Callable[[], None]:
        def call() -> None:
            with mock.patch.object(ours, "perform_request", answer):
                handler()

        return call

    sides: dict[str, Callable[[], object]] = {
        "transport": transport,
        "transport_urllib3": transport_urllib3,
        "handler": handler,
        "framework": framework,
        "stored": stored,
        "handler_stored": handler_over(stored),
        "stored_waited": stored_waited,
        "handler_stored_waited": handler_over(stored_waited),
    }
    for call in sides.values():
        per_call_us(call, 50)  # warm: the connection, the caches, the metrics thread
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, call in sides.items():
            runs[name].append(per_call_us(call, per_round))
    urllib3.close()
    return {"us": {name: statistics.median(v) for name, v in runs.items()}, "runs_us": runs}


def _stored_answers(
    transport: Transport, target: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[Callable[..., TransportApiResponse], Callable[..., TransportApiResponse]]:
    """Stand-ins for ``transport.perform_request``: Elasticsearch's answer to ``body`` for ``target`` (parsed
    afresh each call), at once and after the real exchange's median wall time; any other request (the served
    schema's or the rules' refresh) goes to Elasticsearch."""
    from elastic_transport import TransportApiResponse  # noqa: PLC0415

    real = transport.perform_request
    walls = []
    for _ in range(51):
        started = time.perf_counter()
        answer = real("POST", target, body=body, headers=headers)
        walls.append(time.perf_counter() - started)
    meta, raw, wait_s = answer.meta, orjson.dumps(answer.body), statistics.median(walls)

    def stored(method: str = "POST", path: str = target, **kwargs: Any) -> TransportApiResponse:
        if path != target:
            return real(method, path, **kwargs)
        return TransportApiResponse(meta, orjson.loads(raw))

    def stored_waited(method: str = "POST", path: str = target, **kwargs: Any) -> TransportApiResponse:
        if path == target:
            time.sleep(wait_s)
        return stored(method, path, **kwargs)

    return stored, stored_waited


def _with_urllib3_node(transport: Transport) -> Transport:
    """A transport like ``transport`` (its node, serializer and retries) over elastic_transport's urllib3 node."""
    from elastic_transport import OrjsonSerializer  # noqa: PLC0415
    from elastic_transport import Transport as Built  # noqa: PLC0415

    return Built(
        [node.config for node in transport.node_pool.all()],
        node_class="urllib3",
        serializers={"application/json": OrjsonSerializer()},
        max_retries=transport.max_retries,
        retry_on_timeout=transport.retry_on_timeout,
    )


if __name__ == "__main__":
    sys.stdout.write(json.dumps(layers(sys.argv[1])) + "\n")
