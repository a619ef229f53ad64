"""The search function: HTTP, behind a public Knative route (CONTRACT.md § The search function)."""

import flask
import functions_framework

from hermes.search.app import handle_search
from hermes.startup import boot

boot()


@functions_framework.http
def search(request: flask.Request) -> flask.Response:
    """Every route of the search API; see ``hermes.search.app``."""
    return handle_search(request)
