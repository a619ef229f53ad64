"""The loaders' package: CloudEvents in, one pipeline (``pipeline``), full and delta loads,
the load lock and state, and the operator commands (``cli``, ``operator``)."""
