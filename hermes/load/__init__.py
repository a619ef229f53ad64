"""The loaders' package: CloudEvents in, one pipeline (``pipeline``), full and delta loads, the load lock
and state. Operator commands that drive them live in ``hermes.operator``."""
