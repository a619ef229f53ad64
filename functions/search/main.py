"""The search function: HTTP, behind a public Knative route (CONTRACT.md § The search function)."""

import flask
import functions_framework

from hermes.coldstart import loading_before_fork

with loading_before_fork():
    from hermes.client import import_transport
    from hermes.responses import install
    from hermes.search.app import handle_search
    from hermes.startup import boot

    boot()
    import_transport()  # before gunicorn forks, with the rest, rather than in the first request
install(flask.current_app)  # every error as JSON, also those raised before the function runs


@functions_framework.http
def search(request: flask.Request) -> flask.Response:
    """Every route of the search API; see ``hermes.search.app``."""
    return handle_search(request)
