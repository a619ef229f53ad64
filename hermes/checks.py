"""Validators of :class:`hermes.settings.Settings`, as plain functions of their value.

Plain functions in a module that imports no pydantic, so that the search function's light settings
reader (``hermes.config``, through the specs ``scripts/light_specs.py`` derives from the model) runs
the very same code as the model's ``field_validator``s and ``model_validator``.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, TypeVar

_INDEX_NAME_FORBIDDEN = set(' "*\\<|,>/?#:')
MIN_KEY_SECRET_BYTES = 32
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_MAX_RECENCY_MS = 36_500 * _UNIT_MS["d"]


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


S = TypeVar("S", bound=_Secret)
T = TypeVar("T")


def url_scheme(value: str | None) -> str | None:
    """An ``http(s)://`` URL without its final slashes, or a ``file:///`` one as given."""
    if value is not None and not value.startswith(("http://", "https://", "file:///")):
        msg = "must start with http://, https:// or file:///"
        raise ValueError(msg)
    return value.rstrip("/") if value and not value.startswith("file:") else value


def index_name(value: str) -> str:
    """An Elasticsearch alias name."""
    bad = value != value.lower() or value.startswith(("-", "_", "+", "."))
    if not value or bad or _INDEX_NAME_FORBIDDEN & set(value) or len(value) > 200:
        msg = "must be a lowercase Elasticsearch alias name without special characters"
        raise ValueError(msg)
    return value


def recency_in_range(value: str | None) -> str | None:
    """A half-life of at most a century."""
    # The pattern admits any digits; Elasticsearch's decay scale is a Java long of milliseconds, and a
    # half-life beyond a century decays nothing measurable, so longer ones are refused at start-up.
    parts = re.fullmatch(r"(\d+)(\D+)", value or "")
    if parts and int(parts[1]) * _UNIT_MS[parts[2]] > _MAX_RECENCY_MS:
        msg = "must be at most 36500d (a century)"
        raise ValueError(msg)
    return value


def secret_length(value: S | None) -> S | None:
    """A signing secret at least as long as its hash."""
    if value is not None and len(value.get_secret_value().encode()) < MIN_KEY_SECRET_BYTES:
        msg = f"must be at least {MIN_KEY_SECRET_BYTES} bytes (an HS256 key as long as its hash, RFC 7518 § 3.2)"
        raise ValueError(msg)
    return value


def credentials_pair(settings: T) -> T:
    """Settings that only make sense together."""
    values: Any = settings
    if (values.es_username is None) != (values.es_password is None):
        msg = "ES_USERNAME and ES_PASSWORD must be set together"
        raise ValueError(msg)
    if values.search_key_previous_secret is not None and values.search_key_secret is None:
        msg = "HERMES_SEARCH_KEY_PREVIOUS_SECRET needs HERMES_SEARCH_KEY_SECRET"
        raise ValueError(msg)
    return settings
