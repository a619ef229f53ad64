"""How many examples a property test draws: its full count, or the fast loop's share of it.

Hypothesis' profiles (tests/conftest.py) set ``max_examples`` for the tests that leave it to them; a test
that needs more than Hypothesis' default asks :func:`examples` for its count, so `make test-fast`'s
``fast`` profile lowers both alike and `make test` keeps every count.
"""

from __future__ import annotations

from hypothesis import settings


def examples(full: int) -> int:
    """``full`` scaled by the loaded profile's ``max_examples`` against Hypothesis' own default (100):
    ``full`` itself under the ``hermes`` and ``ci`` profiles, a fifth of it under ``fast``."""
    ratio = settings.default.max_examples / settings.get_profile("default").max_examples
    return max(1, round(full * ratio))
