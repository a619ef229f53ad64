"""The delta_load function: PingSource ticks and ``dev.hermes.load.delta`` → incremental sync."""

import flask
import functions_framework

from hermes.load.app import handle_delta_load
from hermes.startup import boot

boot(needs_source=True)


@functions_framework.http
def delta_load(request: flask.Request) -> flask.Response:
    """Parse the CloudEvent (binary or structured) and apply a delta; see ``hermes.load.app``."""
    return handle_delta_load(request)
