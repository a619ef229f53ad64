"""Derive ``hermes/specs.py`` and ``hermes/search/specs.py`` from the pydantic models they describe.

The search function validates its settings and query parameters without importing pydantic
(``hermes.lightmodel``): what it needs to know of each model — field names, aliases, types, defaults,
constraints and after-validators — is read here from the model itself and written as plain Python.
A field this module cannot describe (a type it does not know, a validator defined inside the model
class, a before-validator) becomes kind ``other``: the light reader then leaves that field to pydantic
whenever it is given. ``make docs`` runs ``python -m scripts.light_specs --write``; a unit test fails
while the committed file differs from what this module renders.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from hermes.search.models import SearchParams, SuggestParams
from hermes.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Each file: (its name for the spec, model, the attribute of a field its key is) — the settings' specs apart
# from the parameters', so that a loader reading its settings imports nothing of hermes.search.
FILES: dict[Path, tuple[tuple[str, type[BaseModel], str], ...]] = {
    ROOT / "hermes" / "specs.py": (("SETTINGS", Settings, "validation_alias"),),
    ROOT / "hermes" / "search" / "specs.py": (
        ("SEARCH_PARAMS", SearchParams, "alias"),
        ("SUGGEST_PARAMS", SuggestParams, "alias"),
    ),
}
_KINDS: dict[object, str] = {str: "str", SecretStr: "secret", int: "int", float: "float", bool: "bool"}
_BOUNDS: tuple[tuple[type, str], ...] = (
    (annotated_types.Gt, "gt"),
    (annotated_types.Ge, "ge"),
    (annotated_types.Lt, "lt"),
    (annotated_types.Le, "le"),
    (annotated_types.MinLen, "min_length"),
    (annotated_types.MaxLen, "max_length"),
)


class _Other(Exception):
    """A field the light reader leaves to pydantic."""


def _bounds(metadata: Sequence[object]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in metadata:
        known = [name for cls, name in _BOUNDS if isinstance(item, cls)]
        if known:
            out[known[0]] = getattr(item, known[0])
        elif type(item).__name__ == "_PydanticGeneralMetadata" and set(vars(item)) == {"pattern"}:
            out["pattern"] = vars(item)["pattern"]
        else:
            raise _Other
    return out


def _kind(annotation: object) -> tuple[str, bool, dict[str, Any]]:
    """Kind, whether ``None`` is allowed, and the bounds of a list's items."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1 or len(args) != 2:
            raise _Other
        kind, _, items = _kind(rest[0])
        return kind, True, items
    if typing.get_origin(annotation) is list:
        item = args[0]
        if typing.get_origin(item) is typing.Annotated:
            base, *meta = typing.get_args(item)
            infos = [m for m in meta if isinstance(m, FieldInfo)]
            if base is not str or len(infos) != len(meta):
                raise _Other
            return "list", False, {k: v for info in infos for k, v in _bounds(info.metadata).items()}
        if item is not str:
            raise _Other
        return "list", False, {}
    if annotation in _KINDS:
        return _KINDS[annotation], False, {}
    raise _Other


def _plain(func: Callable[..., Any]) -> Callable[..., Any]:
    """The validator as a module-level function of a module other than the model's, or _Other."""
    func = getattr(func, "__func__", func)
    if "." in func.__qualname__ or func.__module__ in ("hermes.settings", "hermes.search.models"):
        raise _Other
    return func


def _with_info(func: Callable[..., Any]) -> bool:
    code = func.__code__
    return code.co_argcount >= 2


def _checks(model: type[BaseModel], name: str) -> list[Callable[..., Any]]:
    found = []
    for dec in model.__pydantic_decorators__.field_validators.values():
        if name in dec.info.fields:
            if dec.info.mode != "after":
                raise _Other
            found.append(_plain(dec.func))
    return found


def _spec(model: type[BaseModel], name: str, field: FieldInfo, key_attr: str) -> dict[str, Any]:
    key = str(getattr(field, key_attr) or name)
    spec: dict[str, Any] = {"name": name, "key": key}
    try:
        kind, optional, items = _kind(field.annotation)
        spec |= {"kind": kind, "optional": optional, "bounds": _bounds(field.metadata), "item_bounds": items}
        spec["checks"] = _checks(model, name)
    except _Other:
        spec = {"name": name, "key": key, "kind": "other"}
    if field.default_factory is list:
        spec["factory"] = "list"
    elif field.default_factory is not None:
        spec["factory"] = "other"
    elif field.default is PydanticUndefined:
        spec["has_default"] = False
    elif field.default is None or isinstance(field.default, str | int | float | bool):
        spec["default"] = field.default
    else:  # a default only pydantic builds (an empty Schema): read from the model when first used
        spec["factory"] = "other"
    return spec


def _source(spec: dict[str, Any]) -> str:
    parts = []
    for key, value in spec.items():
        if key == "checks":
            if value:
                pairs = ", ".join(f"({f.__name__}, {_with_info(f)})" for f in value)
                parts.append(f"checks=({pairs},)")
        elif (key in ("bounds", "item_bounds") and not value) or (key == "optional" and not value):
            continue
        else:
            parts.append(f"{key}={value!r}")
    return f"    Spec({', '.join(parts)}),"


def render(target: Path) -> str:
    """The text of ``target``, one of :data:`FILES`."""
    blocks, imports = [], set()
    for const, model, key_attr in FILES[target]:
        specs = [_spec(model, name, field, key_attr) for name, field in model.model_fields.items()]
        funcs = [f for s in specs for f in s.get("checks", [])]
        model_checks: list[Callable[..., Any] | None] = []
        for dec in model.__pydantic_decorators__.model_validators.values():
            try:
                if dec.info.mode != "after":
                    raise _Other
                model_checks.append(_plain(dec.func))
            except _Other:
                model_checks.append(None)  # a model invariant only pydantic runs: never sure
        imports |= {(f.__module__, f.__name__) for f in [*funcs, *(m for m in model_checks if m is not None)]}
        names = ", ".join(m.__name__ if m is not None else "_never" for m in model_checks)
        keys = ", ".join(repr(s["key"]) for s in specs)
        blocks.append(
            f"# {model.__module__}.{model.__qualname__}\n{const} = (\n"
            + "\n".join(_source(s) for s in specs)
            + f"\n)\n{const}_MODEL_CHECKS: tuple[Callable[[Any], Any], ...] = ({names}{',' if names else ''})\n"
            + f"{const}_VARIABLES = frozenset({{{keys}}})\n"
        )
    imports.add(("hermes.lightmodel", "Spec"))
    modules = sorted({module for module, _ in imports})
    lines = [f"from {m} import {', '.join(sorted(n for mm, n in imports if mm == m))}" for m in modules]
    return _formatted(
        target,
        '"""Generated by `python -m scripts.light_specs --write` (`make docs`) from the pydantic models.\n\n'
        "Do not edit: what ``hermes.lightmodel.read`` needs of each model the search function reads on its\n"
        "cold path, derived from the models themselves.\n"
        '"""\n\n'
        "from collections.abc import Callable\nfrom typing import Any\n\n"
        + "\n".join(lines)
        + "\n\n\n"
        + "def _never(_: object) -> object:\n"
        + '    raise ValueError("only pydantic runs this model\'s invariants")  # noqa: EM101\n\n\n'
        + "\n\n".join(blocks),
    )


def _formatted(target: Path, text: str) -> str:
    """``text`` as ``ruff format`` writes it, so the generated file passes ``make lint``."""
    return subprocess.run(  # noqa: S603 - our own interpreter's ruff
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(target), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout


def main(argv: Sequence[str] | None = None) -> int:
    """Print the specs, or write them with ``--write``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write the files (else print them)")
    args = parser.parse_args(argv)
    for target in FILES:
        text = render(target)
        if args.write:
            target.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(f"# {target.relative_to(ROOT)}\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
