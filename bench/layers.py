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

from werkzeug.test import EnvironBuilder

from bench.checks import expect

if TYPE_CHECKING:
    from elastic_transport import Transport

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

    sides = {
        "transport": transport,
        "transport_urllib3": transport_urllib3,
        "handler": handler,
        "framework": framework,
    }
    for call in sides.values():
        per_call_us(call, 50)  # warm: the connection, the caches, the metrics thread
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, call in sides.items():
            runs[name].append(per_call_us(call, per_round))
    urllib3.close()
    return {"us": {name: statistics.median(v) for name, v in runs.items()}, "runs_us": runs}


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
