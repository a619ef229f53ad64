"""Validators of the search parameters (``hermes.search.models``), as plain functions.

Plain functions in a module that imports no pydantic, so that the light parameter reader
(``hermes.search.params``, through the specs ``scripts/light_specs.py`` derives from the models) runs
the very same code as the models' ``field_validator``s. ``info`` is pydantic's ``ValidationInfo`` or
the light reader's stand-in: both hold the fields validated so far in ``data``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

MAX_WINDOW = 1000


class _Info(Protocol):
    @property
    def data(self) -> dict[str, Any]: ...


def window(value: int, info: _Info) -> int:
    """``from``, checked with ``size``: the page must end within the first ``MAX_WINDOW`` hits."""
    size = info.data.get("size")
    if isinstance(size, int) and value + size > MAX_WINDOW:
        msg = f"from + size must not exceed {MAX_WINDOW}"
        raise ValueError(msg)
    return value


def ordered(value: datetime | None, info: _Info) -> datetime | None:
    """``updated_before``, checked with ``updated_after``."""
    after = info.data.get("updated_after")
    if value is not None and after is not None and after > value:
        msg = "must not be earlier than updated_after"
        raise ValueError(msg)
    return value
