"""Developer tooling, run from the repository root as modules: ``python -m scripts.dev``,
``python -m scripts.local_es up``, ``python -m scripts.matrix``, ``python -m scripts.lock``.
Never shipped in an image (project.toml excludes it)."""
