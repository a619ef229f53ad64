"""The baseline for cold start: a bare functions-framework HTTP function."""

import flask
import functions_framework


@functions_framework.http
def hello(request: flask.Request) -> str:
    return "ok"
