"""The process's settings, read on the search function's cold path without importing pydantic.

:class:`hermes.settings.Settings` is the one declaration of every setting. Reading it costs pydantic's
import and the model's build (~90 ms of the search function's cold start, docs/benchmarks.md), so
:func:`get_settings` first tries the light reader: ``hermes/specs.py``, derived from ``Settings`` by
``scripts/light_specs.py``, run by :func:`hermes.lightmodel.read` with the model's own validators
(``hermes.checks``). When it is sure of every value, the answer is a :class:`LightSettings` holding what
``Settings`` would hold; otherwise (an invalid value, a form it does not recognise, ``HERMES_SCHEMA``)
pydantic reads the environment, and either accepts it or names the variable at fault.

This module imports no pydantic: it is imported by the search function.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from hermes.lightmodel import LightModel

if TYPE_CHECKING:
    from hermes.settings import Settings


class Derived:
    """Values derived from settings, the same on :class:`Settings` and on :class:`LightSettings`."""

    if TYPE_CHECKING:  # not an annotation at run time: pydantic would take it for a field of Settings
        es_index: str

    @property
    def analytics_prefix(self) -> str:
        """Search analytics live in ``<prefix>-<YYYY.MM>``, beside the alias; no ``<alias>-*`` pattern matches."""
        return f"{self.es_index}.hermes-analytics"

    @property
    def rules_index(self) -> str:
        """The relevance rules' index, beside the alias; no ``<alias>-*`` pattern matches it."""
        return f"{self.es_index}.hermes-rules"

    @property
    def state_index(self) -> str:
        """The loaders' bookkeeping index; no ``<alias>-*`` pattern can match it."""
        return f"{self.es_index}.hermes-state"


def pick(environ: Mapping[str, str], names: frozenset[str]) -> dict[str, str]:
    """The variables of ``environ`` named in ``names``.

    Names match case-insensitively, as pydantic-settings did; the exact spelling wins.
    """
    values = {k.upper(): v for k, v in environ.items() if k.upper() in names and k not in names}
    values.update({k: v for k, v in environ.items() if k in names})
    return values


class LightSettings(Derived, LightModel):
    """The values :class:`Settings` would hold, read without pydantic.

    A field whose default the light reader cannot build (the empty ``HERMES_SCHEMA``) is read from
    ``Settings`` on first use: the search function never uses one.
    """

    def __init__(self, values: Mapping[str, Any], environ: Mapping[str, str]) -> None:
        super().__init__(values)
        self.__dict__["_environ"] = dict(environ)

    def __getattr__(self, name: str) -> Any:
        # Called only for what __init__ did not set: fields left to pydantic, and pydantic's own methods.
        if name.startswith("__"):
            raise AttributeError(name)
        full = self.__dict__.get("_full")
        if full is None:
            from hermes.settings import load_settings  # noqa: PLC0415 - pydantic only when needed

            full = self.__dict__["_full"] = load_settings(self.__dict__["_environ"])
        return getattr(full, name)


def read_settings(environ: Mapping[str, str]) -> LightSettings | None:
    """The settings ``environ`` holds when the light reader is sure of them all, else ``None``."""
    from hermes import lightmodel, specs  # noqa: PLC0415 - specs imports hermes.checks, which imports nothing

    picked = pick(environ, specs.SETTINGS_VARIABLES)
    values = lightmodel.read(specs.SETTINGS, picked)
    if values is None:
        return None
    light = LightSettings(values, picked)
    try:
        for check in specs.SETTINGS_MODEL_CHECKS:
            check(light)
    except ValueError:
        return None
    return light


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read on first use; pydantic only when the light reader is unsure.

    Raises:
        ConfigurationError: a value is invalid (pydantic's message, naming the variable).
    """
    light = read_settings(os.environ)
    if light is not None:
        # Not a Settings, but every attribute of one: tests/unit/core/test_light_models.py checks them.
        return cast("Settings", light)
    from hermes.settings import load_settings  # noqa: PLC0415 - pydantic only when needed

    return load_settings()
