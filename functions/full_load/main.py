"""The full_load function: CloudEvent ``dev.hermes.load.full`` → rebuild behind the alias."""

import flask
import functions_framework

from hermes.load.app import handle_full_load
from hermes.startup import boot

boot(needs_source=True)


@functions_framework.http
def full_load(request: flask.Request) -> flask.Response:
    """Parse the CloudEvent (binary or structured) and run a full load; see ``hermes.load.app``."""
    return handle_full_load(request)
