"""The two loader functions as real processes side by side, for the suites that drive both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from tests.support.process import side_by_side, started


@contextmanager
def loaders(env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """The delta and the full load function processes on ``env``, started at once (their start-ups overlap
    instead of adding up); their base URLs, delta first. Both are stopped when the block ends."""
    with ExitStack() as stack:
        (delta_url, _), (full_url, _) = side_by_side(
            stack, [started(name, name, env) for name in ("delta_load", "full_load")]
        )
        yield delta_url, full_url
