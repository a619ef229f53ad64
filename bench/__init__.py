"""The benchmarks, run from the repository root as modules: ``python -m bench.run`` (``make bench``).
Never shipped in an image (project.toml excludes it)."""
