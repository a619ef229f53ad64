"""Operator commands (``python -m hermes``): status, rollback, dead letters, loads and the analytics report.

The one place that may read both wings: it drives the loaders' code (``hermes.load``) and reads what the
search function records, so ``hermes.search`` and ``hermes.load`` never import each other
(tests/unit/tooling/test_layout.py proves it). No function imports this package.
"""
