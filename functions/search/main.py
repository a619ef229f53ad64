"""The search function: HTTP, behind a public Knative route (CONTRACT.md § The search function)."""

import flask
import functions_framework

from hermes.startup import boot
from hermes.web import handle_search

boot()


@functions_framework.http
def search(request: flask.Request) -> flask.Response:
    """Every route of the search API; see ``hermes.web``."""
    return handle_search(request)
