"""A function under test gets its whole environment from one place, derived from ``Settings``.

Copying variables by hand drops whatever the copy forgot (a test that set ``HERMES_SOURCE_RETRIES=1``
once ran its function with 5): :func:`hermes.settings.to_environ` writes every field.
"""

from __future__ import annotations

from typing import Any

import pytest

from hermes.settings import Settings, to_environ, variables


def settings_with(base: Settings | None = None, **overrides: Any) -> Settings:
    """``base`` (default: the defaults) with ``overrides`` keyed by environment variable name."""
    values = to_environ(base) if base is not None else {}
    return Settings.model_validate({**values, **overrides})


def environ(base: Settings | None = None, **overrides: Any) -> dict[str, str]:
    """The whole environment of a function configured as ``settings_with(base, **overrides)``."""
    return to_environ(settings_with(base, **overrides))


def configure(monkeypatch: pytest.MonkeyPatch, base: Settings | None = None, **overrides: Any) -> Settings:
    """Make this process's environment exactly ``settings_with(base, **overrides)``; return those settings."""
    settings = settings_with(base, **overrides)
    env = to_environ(settings)
    for name in variables() - set(env):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings
