"""Query strings → validated parameters, with errors naming the parameter.

The parameters are declared once, as the pydantic models of ``hermes.search.models``. A request is
first read by the light reader (``hermes.lightmodel``, through the specs ``scripts/light_specs.py``
derives from those models), which spares the search function pydantic's import at its cold start;
whenever it is unsure — an invalid value, a parameter it leaves to pydantic such as a timestamp —
the model validates the request, and its error names the parameter.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, TypeVar, cast

from werkzeug.datastructures import MultiDict

from hermes.errors import BadRequestError
from hermes.lightmodel import LightModel, Spec

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError
    from pydantic.fields import FieldInfo

    from hermes.search.models import SearchParams, SuggestParams

M = TypeVar("M", bound="BaseModel")


class LightSearchParams(LightModel):
    """What :class:`~hermes.search.models.SearchParams` would hold, read without pydantic."""


class LightSuggestParams(LightModel):
    """What :class:`~hermes.search.models.SuggestParams` would hold, read without pydantic."""


def parse_search(args: MultiDict[str, str]) -> SearchParams:
    """The parameters of ``GET /search``."""
    from hermes.search import specs  # noqa: PLC0415 - read on the first request, with the rest of the path

    light = _light(specs.SEARCH_PARAMS, args)
    if light is not None:
        # Not a SearchParams, but every attribute of one: tests/unit/search/test_light_params.py checks them.
        return cast("SearchParams", LightSearchParams(light))
    from hermes.search.models import SearchParams  # noqa: PLC0415 - pydantic only when needed

    return parse_params(SearchParams, args)


def parse_suggest(args: MultiDict[str, str]) -> SuggestParams:
    """The parameters of ``GET /suggest``."""
    from hermes.search import specs  # noqa: PLC0415

    light = _light(specs.SUGGEST_PARAMS, args)
    if light is not None:
        return cast("SuggestParams", LightSuggestParams(light))
    from hermes.search.models import SuggestParams  # noqa: PLC0415 - pydantic only when needed

    return parse_params(SuggestParams, args)


def _light(specs: tuple[Spec, ...], args: MultiDict[str, str]) -> dict[str, Any] | None:
    """The values, when the light reader is sure of them; ``None``: ask the model."""
    from hermes import lightmodel  # noqa: PLC0415

    by_key = _by_key(specs)
    data: dict[str, object] = {}
    for name in args:
        spec = by_key.get(name)
        if spec is None:
            continue
        if spec.kind == "other":
            return None
        values = args.getlist(name)
        data[name] = values if spec.kind == "list" else values[0] if len(values) == 1 else None
        if data[name] is None:
            return None  # repeated: the model's path says so
    return lightmodel.read(specs, data)


_KEYED: dict[int, dict[str, Spec]] = {}


def _by_key(specs: tuple[Spec, ...]) -> dict[str, Spec]:
    """The specs by parameter name (worked out once per model; the specs are module constants)."""
    keyed = _KEYED.get(id(specs))
    if keyed is None:
        keyed = _KEYED[id(specs)] = {spec.key: spec for spec in specs}
    return keyed


def parse_params(model: type[M], args: MultiDict[str, str]) -> M:
    """Validate ``args`` against ``model``; repeatable parameters are list fields."""
    from pydantic import ValidationError  # noqa: PLC0415 - pydantic only when needed

    fields, repeatable = _parameters(model)
    data: dict[str, object] = {}
    for name in args:
        if name not in fields:  # unknown parameters are ignored, repeated or not (and `from_` is not `from`)
            continue
        values = args.getlist(name)
        if name in repeatable:
            data[name] = values
        elif len(values) > 1:
            msg = f"{name} may be given only once"
            raise BadRequestError(msg, parameter=name)
        else:
            data[name] = values[0]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _bad_request(model, exc) from None


@functools.cache
def _parameters(model: type[BaseModel]) -> tuple[dict[str, FieldInfo], frozenset[str]]:
    """The model's fields by parameter name, and the repeatable ones (worked out once per model)."""
    fields = {(f.alias or name): f for name, f in model.model_fields.items()}
    repeatable = frozenset(name for name, f in fields.items() if getattr(f.annotation, "__origin__", None) is list)
    return fields, repeatable


def _bad_request(model: type[BaseModel], exc: ValidationError) -> BadRequestError:
    err = exc.errors()[0]
    loc = err["loc"][0] if err["loc"] else None
    field = model.model_fields.get(str(loc)) if loc is not None else None
    name = (field.alias or str(loc)) if field is not None else (str(loc) if loc else None)
    if err["type"] == "missing":
        return BadRequestError(f"{name} is required", parameter=name)
    message = err["msg"].removeprefix("Value error, ")
    return BadRequestError(f"{name}: {message}" if name else message, parameter=name)
