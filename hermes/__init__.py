"""Hermes: search over Elasticsearch as serverless functions.

The package is a small core shared by every function, then one subpackage per
deployment unit, so a module's path says which function it serves:

- core: ``settings``, ``errors``, ``logs``, ``startup``, ``client`` (the two
  Elasticsearch clients — the full one for the loaders, the transport alone for
  search — and the translation of their failures into Hermes errors), ``responses``
  (the one HTTP response boundary), ``documents`` (what "live" means) and ``timestamps``;
- ``hermes.search``: everything the search function runs (nothing of the loaders);
- ``hermes.load``: the full and delta loads and their CloudEvent surface;
- ``hermes.operator``: the operator commands (``python -m hermes``), the only package that reads both
  ``hermes.search`` and ``hermes.load``, which never import each other.

Importing this package imports nothing else: each function pays only for what it uses.
"""
