"""Scoped search keys: JWTs signed with HS256 (CONTRACT.md § Search keys and limits).

A key is self-contained: whoever holds the signing secret (this function, ``python -m hermes
key create``, any backend with a JWT library) can mint one, and the search function needs no
lookup to check it. PyJWT does the cryptography and the expiry check; this module only maps
its verdicts to the contract's 401 messages and reads the optional claims.

Rotation: the function accepts keys signed with ``HERMES_SEARCH_KEY_SECRET`` or with
``HERMES_SEARCH_KEY_PREVIOUS_SECRET``, so a new secret can be rolled out before the keys
signed with the old one expire.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from hermes.errors import UnauthorizedError

if TYPE_CHECKING:
    from hermes.schema import Schema

ALGORITHM = "HS256"
_FILTER_TYPES = ("keyword", "boolean")
Filter = Mapping[str, tuple[str | bool, ...]]


@dataclass(frozen=True)
class SearchKey:
    """What a verified key allows. The open key (no secret configured) allows everything."""

    sub: str | None = None
    filter: Filter = field(default_factory=dict)
    max_size: int | None = None
    rate: int | None = None  # requests per minute
    caller: str | None = None  # whom rate limits count: the sub, else the key's signature


OPEN = SearchKey()


class KeyVerifier:
    """Checks ``Authorization`` headers against the current and the previous secret."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._secrets = [s.encode() for s in secrets]

    def verify(self, authorization: str | None, schema: Callable[[], Schema]) -> SearchKey:
        """The key a request carries, or :class:`UnauthorizedError` saying what is wrong with it."""
        if not authorization:
            msg = "a search key is required: send Authorization: Bearer <key>"
            raise UnauthorizedError(msg)
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            msg = "the Authorization header must be: Bearer <key>"
            raise UnauthorizedError(msg)
        key = _claims(self._decode(token.strip()), schema)
        return replace(key, caller=key.sub or "sig:" + token.strip().rsplit(".", 1)[-1])

    def _decode(self, token: str) -> dict[str, Any]:
        import jwt  # noqa: PLC0415 - only a deployment with keys pays for the import

        for secret in self._secrets:
            try:
                claims: dict[str, Any] = jwt.decode(token, secret, algorithms=[ALGORITHM])
            except jwt.InvalidSignatureError:
                continue
            except jwt.ExpiredSignatureError:
                msg = "the search key has expired"
                raise UnauthorizedError(msg) from None
            except jwt.InvalidTokenError as exc:
                msg = f"the search key is malformed ({exc})"
                raise UnauthorizedError(msg) from None
            return claims
        msg = "the search key's signature does not match: it was not signed with this deployment's secret"
        raise UnauthorizedError(msg)


def _claims(claims: dict[str, Any], schema: Callable[[], Schema]) -> SearchKey:
    sub, max_size, rate = claims.get("sub"), claims.get("max_size"), claims.get("rate")
    if sub is not None and not isinstance(sub, str):
        msg = "sub must be a string"
        raise _malformed(msg)
    for name, value in (("max_size", max_size), ("rate", rate)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            msg = f"{name} must be a positive integer"
            raise _malformed(msg)
    return SearchKey(sub, _filter(claims.get("filter"), schema), max_size, rate)


def _filter(raw: object, schema: Callable[[], Schema]) -> Filter:
    """The key's filter, checked against the served schema (read only for keys that have a filter)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        msg = "filter must be an object of field: [values]"
        raise _malformed(msg)
    out: dict[str, tuple[str | bool, ...]] = {}
    declared = schema().fields
    for name, values in raw.items():
        spec = declared.get(name)
        if spec is None or spec.type not in _FILTER_TYPES:
            msg = f"filter field {name!r} is not a declared keyword or boolean field"
            raise _malformed(msg)
        listed = values if isinstance(values, list) else [values]
        kind = bool if spec.type == "boolean" else str
        if not listed or not all(type(v) is kind for v in listed):
            msg = f"filter field {name!r} needs one or more values of its type ({spec.type})"
            raise _malformed(msg)
        out[name] = tuple(listed)
    return out


def _malformed(why: str) -> UnauthorizedError:
    return UnauthorizedError(f"the search key is malformed: {why}")


def mint(
    secret: str,
    *,
    sub: str | None = None,
    ttl_s: float | None = None,
    filter: Mapping[str, Sequence[str | bool]] | None = None,
    max_size: int | None = None,
    rate: int | None = None,
) -> str:
    """A signed key with the given claims (all optional)."""
    import jwt  # noqa: PLC0415

    claims: dict[str, Any] = {"iat": int(time.time())}
    if sub is not None:
        claims["sub"] = sub
    if ttl_s is not None:
        claims["exp"] = int(time.time() + ttl_s)
    if filter:
        claims["filter"] = {name: list(values) for name, values in filter.items()}
    if max_size is not None:
        claims["max_size"] = max_size
    if rate is not None:
        claims["rate"] = rate
    return jwt.encode(claims, secret.encode(), algorithm=ALGORITHM)
