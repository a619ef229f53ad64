"""Hermes: search over Elasticsearch as serverless functions.

The package is a small core shared by every function, then one subpackage per
deployment unit, so a module's path says which function it serves:

- core: ``settings``, ``errors``, ``logs``, ``startup``, ``client`` (the
  Elasticsearch client and the translation of its failures into Hermes errors),
  ``responses`` (the one HTTP response boundary) and ``timestamps``;
- ``hermes.search``: everything the search function runs (nothing of the loaders);
- ``hermes.load``: the full and delta loads, their CloudEvent surface and the
  operator commands (``python -m hermes``).

Importing this package imports nothing else: each function pays only for what it uses.
"""
