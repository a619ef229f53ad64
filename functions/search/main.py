"""The search function: HTTP, behind a public Knative route (CONTRACT.md § The search function)."""

import flask
import functions_framework

from hermes.responses import install
from hermes.search.app import handle_search
from hermes.startup import boot

boot()
install(flask.current_app)  # every error as JSON, also those raised before the function runs


@functions_framework.http
def search(request: flask.Request) -> flask.Response:
    """Every route of the search API; see ``hermes.search.app``."""
    return handle_search(request)
