"""The delta_load function: PingSource ticks and ``dev.hermes.load.delta`` → incremental sync."""

import flask
import functions_framework

from hermes.load.app import handle_delta_load, reply_as_cloudevents
from hermes.responses import install
from hermes.startup import boot

boot(needs_source=True)
install(flask.current_app)  # every error as JSON, also those raised before the function runs
reply_as_cloudevents(flask.current_app, "delta_load")  # what a Knative Broker accepts as a reply


@functions_framework.http
def delta_load(request: flask.Request) -> flask.Response:
    """Parse the CloudEvent (binary or structured) and apply a delta; see ``hermes.load.app``."""
    return handle_delta_load(request)
