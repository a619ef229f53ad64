"""Scoped search keys: PyJWT verifies, the contract's 401 messages say what is wrong."""

from __future__ import annotations

import time

import jwt
import pytest

from hermes.errors import UnauthorizedError
from hermes.schema import Schema
from hermes.search.keys import KeyVerifier, SearchKey, mint

SECRET = "s" * 32
OLD = "o" * 32
SCHEMA = Schema.model_validate(
    {"fields": {"tenant": {"type": "keyword", "filter": True}, "public": {"type": "boolean"}, "n": {"type": "number"}}}
)


def _verify(header: str | None, secrets: tuple[str, ...] = (SECRET,)) -> SearchKey:
    return KeyVerifier(secrets).verify(header, lambda: SCHEMA)


def test_a_minted_key_carries_its_claims() -> None:
    key = mint(SECRET, sub="acme-web", ttl_s=60, filter={"tenant": ["acme"], "public": [True]}, max_size=20, rate=30)
    got = _verify(f"Bearer {key}")
    assert got == SearchKey("acme-web", {"tenant": ("acme",), "public": (True,)}, 20, 30, caller="acme-web")


def test_a_key_signed_with_the_previous_secret_still_works() -> None:
    assert _verify(f"Bearer {mint(OLD, sub='old')}", (SECRET, OLD)).sub == "old"


@pytest.mark.parametrize(
    ("header", "says"),
    [
        (None, "required"),
        ("", "required"),
        ("Basic dXNlcjpwYXNz", "Bearer"),
        ("Bearer", "Bearer"),
        ("Bearer not-a-jwt", "malformed"),
        (f"Bearer {mint('x' * 32)}", "signature"),
        (f"Bearer {jwt.encode({'exp': int(time.time()) - 5}, SECRET.encode(), algorithm='HS256')}", "expired"),
        (f"Bearer {jwt.encode({'sub': 1}, SECRET.encode(), algorithm='HS256')}", "malformed"),
        (f"Bearer {mint(SECRET, filter={'n': ['1']})}", "not a declared keyword or boolean"),
        (f"Bearer {mint(SECRET, filter={'nope': ['1']})}", "not a declared keyword or boolean"),
        (f"Bearer {mint(SECRET, filter={'tenant': []})}", "malformed"),
        (f"Bearer {mint(SECRET, max_size=0)}", "max_size"),
        (f"Bearer {jwt.encode({'rate': True}, SECRET.encode(), algorithm='HS256')}", "rate"),
    ],
)
def test_a_bad_key_is_refused_saying_why(header: str | None, says: str) -> None:
    with pytest.raises(UnauthorizedError, match=says) as caught:
        _verify(header)
    assert caught.value.status == 401


def test_the_none_algorithm_is_never_accepted() -> None:
    unsigned = jwt.encode({"sub": "x"}, key=None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(UnauthorizedError):
        _verify(f"Bearer {unsigned}")


def test_filter_values_must_have_their_field_type() -> None:
    for bad in ({"tenant": [True]}, {"public": ["true"]}):
        with pytest.raises(UnauthorizedError, match="values of its type"):
            _verify(f"Bearer {mint(SECRET, filter=bad)}")


def test_the_served_schema_is_read_only_for_keys_with_a_filter() -> None:
    def unreachable() -> Schema:
        raise AssertionError

    assert KeyVerifier([SECRET]).verify(f"Bearer {mint(SECRET, sub='plain')}", unreachable).sub == "plain"
