"""What a benchmark expects of the run it measures: a failed expectation stops it with a named error."""

from __future__ import annotations


class BenchmarkError(Exception):
    """The benchmark saw something other than what it measures (a failed request, a short load)."""


def expect(ok: bool, what: str) -> None:
    """Stop the run with :class:`BenchmarkError` saying ``what`` went wrong unless ``ok``."""
    if not ok:
        raise BenchmarkError(what)
