"""The answer bodies every function shares, as ``TypedDict``s: the error object and the health answer.

The code that builds them is type-checked against them (``hermes.errors``, ``hermes.responses`` import
them for the type checker only) and ``/openapi.json`` is generated from them (``hermes.search.openapi``,
through pydantic). They are ``typing_extensions.TypedDict``s because pydantic on Python 3.11 reads no
other kind; importing ``typing_extensions`` costs ~2 ms, so no module on the search function's cold
path imports this one at run time.
"""

from __future__ import annotations

from typing import Literal, NotRequired

from typing_extensions import TypedDict


class ErrorDetail(TypedDict):
    """What went wrong: a snake_case type, a human message, the parameter at fault if one is."""

    type: str
    message: str
    parameter: NotRequired[str]


class ErrorBody(TypedDict):
    """The contract's error object: every error answer of every function, and the CLI's."""

    error: ErrorDetail


class Health(TypedDict):
    """Liveness and readiness answers."""

    status: Literal["ok", "unavailable"]
    detail: NotRequired[str]
