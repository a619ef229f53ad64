"""The search function's transport is imported without probing HTTP libraries it never uses."""

from __future__ import annotations

import subprocess
import sys

_CHECK = """
import sys
from hermes.client import build_transport
from hermes.settings import Settings
transport = build_transport(Settings(ES_URL="http://127.0.0.1:9"))
assert "requests" not in sys.modules, "elastic_transport probed requests"
assert type(transport.node_pool.get()).__name__ == "HttpClientNode"
import requests  # the guard is gone: the loaders' library still imports
assert requests.get
"""


def test_transport_import_skips_the_requests_probe_and_leaves_requests_importable() -> None:
    subprocess.run([sys.executable, "-c", _CHECK], check=True)
