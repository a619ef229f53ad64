"""Start-up of a function process that gunicorn forks: no garbage collection while its modules load.

Everything a function imports at start-up lives as long as the process, so a cyclic collection in the
middle of the imports frees nothing; and gunicorn forks its worker from the process that imported them.
As Python's documentation of ``gc.freeze`` advises for a parent that forks without exec, the collector is
off while the modules load, then everything loaded is frozen: later collections in the worker skip it,
and never write to its pages, which stay shared with the parent.

Importing this module imports nothing else: it must run before the heavy imports it is about.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def loading_before_fork() -> Iterator[None]:
    """Collect no garbage inside; freeze what was loaded when leaving."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
