"""The full_load function: CloudEvent ``dev.hermes.load.full`` → rebuild behind the alias."""

import flask
import functions_framework

from hermes.load.app import handle_full_load, reply_as_cloudevents
from hermes.responses import install
from hermes.startup import boot

boot(needs_source=True)
install(flask.current_app)  # every error as JSON, also those raised before the function runs
reply_as_cloudevents(flask.current_app, "full_load")  # what a Knative Broker accepts as a reply


@functions_framework.http
def full_load(request: flask.Request) -> flask.Response:
    """Parse the CloudEvent (binary or structured) and run a full load; see ``hermes.load.app``."""
    return handle_full_load(request)
