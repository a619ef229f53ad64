"""Query strings → validated parameter models, with errors naming the parameter."""

from __future__ import annotations

import functools
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from werkzeug.datastructures import MultiDict

from hermes.errors import BadRequestError

M = TypeVar("M", bound=BaseModel)


def parse_params(model: type[M], args: MultiDict[str, str]) -> M:
    """Validate ``args`` against ``model``; repeatable parameters are list fields."""
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
