"""A floor for the search function: a bare functions-framework function that sends one fixed search.

Whatever the request, it POSTs the body in ``BENCH_SEARCH_BODY`` to ``BENCH_SEARCH_URL`` (an index's
``_search``) over a keep-alive ``http.client`` connection of its thread, and answers Elasticsearch's bytes
unchanged: no parameters, no query building, no answer mapping, no client library. Any function that
searches through the same runtime pays at least what this one does (bench/lean.py measures it beside
the search function).
"""

import http.client
import os
import threading
import urllib.parse

import flask
import functions_framework

_URL = urllib.parse.urlsplit(os.environ["BENCH_SEARCH_URL"])
_BODY = os.environ["BENCH_SEARCH_BODY"].encode()
_HEADERS = {"Content-Type": "application/json"}
_local = threading.local()


def _connection() -> http.client.HTTPConnection:
    conn: http.client.HTTPConnection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = http.client.HTTPConnection(_URL.hostname or "127.0.0.1", _URL.port, timeout=30)
    return conn


@functions_framework.http
def passthrough(request: flask.Request) -> flask.Response:
    conn = _connection()
    conn.request("POST", _URL.path, _BODY, _HEADERS)
    answer = conn.getresponse()
    return flask.Response(answer.read(), answer.status, mimetype="application/json")
