"""The search function's package: HTTP app, parameters, queries, service, readiness, metrics, OpenAPI.

Nothing here imports ``hermes.load`` or ``hermes.operator`` (tests/unit/tooling/test_layout.py proves it for the whole
import graph of ``functions/search/main.py``).
"""
