"""Validation of flat pydantic models without importing pydantic, for the search function's cold path.

``pydantic`` costs the search function ~50 ms of imports and ~40 ms of model building at every cold
start (docs/benchmarks.md). The models stay the one declaration: ``scripts/light_specs.py`` derives a
:class:`Spec` of each flat model (``Settings``, the search parameters) from its fields, constraints and
validators, and writes them to ``hermes/specs.py`` and ``hermes/search/specs.py`` (``make docs``; a unit
test fails when they are stale).

:func:`read` validates raw values against a spec and is sure only of what it recognises: it returns the
values pydantic would produce, or ``None`` — for any invalid value, and for any value it does not
recognise (a type it does not know, an integer written ``1_000``). The caller then asks pydantic,
which either accepts or names the value at fault, so every message still comes from pydantic.
A property test (``tests/unit/core/test_light_models.py``) checks both halves against pydantic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

# Forms of a number whose value pydantic's lax mode and Python agree on; anything else is left to pydantic.
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?")
_BOOL = {"true": True, "false": False, "1": True, "0": False}

Check = Callable[..., Any]


class Spec(NamedTuple):
    """One field of a flat model, as ``scripts/light_specs.py`` derived it.

    ``kind`` is ``str``, ``secret``, ``int``, ``float``, ``bool``, ``list`` (of ``str``) or ``other`` (a type
    :func:`read` leaves to pydantic). ``default`` is the field's default when ``has_default``; ``factory``
    names a default built per instance (``list``). ``bounds`` holds the field's ``gt``/``ge``/``lt``/``le``/
    ``min_length``/``max_length``/``pattern``; ``item_bounds`` those of a list's items. ``checks`` are the
    field's after-validators, each a plain function taking the value (and a ``ValidationInfo``-like object
    when ``with_info``).
    """

    name: str
    key: str
    kind: str
    optional: bool = False
    has_default: bool = True
    default: Any = None
    factory: str | None = None
    bounds: Mapping[str, Any] = {}
    item_bounds: Mapping[str, Any] = {}
    checks: tuple[tuple[Check, bool], ...] = ()


class Secret:
    """What pydantic's ``SecretStr`` offers the search path: the value, never printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __eq__(self, other: object) -> bool:
        getter = getattr(other, "get_secret_value", None)
        return callable(getter) and getter() == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class _Info:
    """The part of pydantic's ``ValidationInfo`` a validator here may read: the fields validated so far."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data


class _Unsure(Exception):
    """Not a value this module vouches for: pydantic decides."""


def read(specs: tuple[Spec, ...], raw: Mapping[str, object]) -> dict[str, Any] | None:
    """Field values by name, as pydantic would validate ``raw`` (keyed by alias); ``None``: ask pydantic.

    Fields absent from ``raw`` take their default (none without one: ``None``, pydantic says what is
    missing); fields without a default this module can build are left out of the answer, so the caller
    can fetch them from pydantic when first used.
    """
    data: dict[str, Any] = {}
    try:
        for spec in specs:
            if spec.key in raw:
                value = _value(spec, raw[spec.key])
                for check, with_info in spec.checks:
                    value = check(value, _Info(data)) if with_info else check(value)
                data[spec.name] = value
            elif spec.factory == "list":
                data[spec.name] = []
            elif spec.has_default and spec.factory is None:
                data[spec.name] = spec.default
            elif not spec.has_default:
                return None
    except (_Unsure, ValueError, AssertionError):
        return None
    return data


def _value(spec: Spec, raw: object) -> Any:
    if spec.kind == "list":
        if not isinstance(raw, list):
            raise _Unsure
        _bounded(raw, spec.bounds)
        return [_bounded(_text(item), spec.item_bounds) for item in raw]
    if not isinstance(raw, str):
        raise _Unsure
    parsed = _scalar(spec.kind, _text(raw))
    return Secret(_bounded(parsed, spec.bounds)) if spec.kind == "secret" else _bounded(parsed, spec.bounds)


def _text(raw: object) -> str:
    # A string pydantic's Rust core could not take whole (lone surrogates), or one whose `$` would match
    # before a final newline in Python's re and not in pydantic's regex: pydantic decides.
    if not isinstance(raw, str) or "\n" in raw or not (raw.isascii() or _encodes(raw)):
        raise _Unsure
    return raw


def _encodes(raw: str) -> bool:
    try:
        raw.encode()
    except UnicodeEncodeError:
        return False
    return True


def _scalar(kind: str, raw: str) -> Any:
    if kind in ("str", "secret"):
        return raw
    if kind == "int" and _INT.fullmatch(raw):
        return int(raw)
    if kind == "float" and _FLOAT.fullmatch(raw):
        return float(raw)
    if kind == "bool" and raw in _BOOL:
        return _BOOL[raw]
    raise _Unsure


def _bounded(value: Any, bounds: Mapping[str, Any]) -> Any:
    for name, limit in bounds.items():
        if not _within(name, value, limit):
            raise _Unsure
    return value


def _within(name: str, value: Any, limit: Any) -> bool:
    if name == "gt":
        return bool(value > limit)
    if name == "ge":
        return bool(value >= limit)
    if name == "lt":
        return bool(value < limit)
    if name == "le":
        return bool(value <= limit)
    if name == "min_length":
        return bool(len(value) >= limit)
    if name == "max_length":
        return bool(len(value) <= limit)
    if name == "pattern":
        return re.search(limit, value) is not None
    raise _Unsure  # a constraint this module does not know


class LightModel:
    """Validated values as attributes, as the pydantic model would hold them (compared by value)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)

    def model_copy(self, *, update: Mapping[str, Any]) -> Any:
        """A copy with some values replaced, as pydantic's ``model_copy`` (no validation either)."""
        copy = object.__new__(type(self))
        copy.__dict__.update({**self.__dict__, **update})
        return copy

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable in principle, like an unfrozen model

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"
