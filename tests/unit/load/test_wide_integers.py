"""Integers beyond 64 bits in streamed JSON: the record fails alone, every other byte passes unchanged."""

from __future__ import annotations

import json
from typing import Any

import ijson
from hypothesis import given, settings
from hypothesis import strategies as st

from hermes.load.records import Rejected
from hermes.load.sources import SourceConfig, read_records
from hermes.load.wide_integers import WideIntegerGuard
from tests.support.datasource import SourceBehaviour, serve
from tests.support.examples import examples

_WIDE = st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63)))
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1),
    _WIDE,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.sampled_from('ab"\\\n19-.e\u00e9'), max_size=30),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


def _marked(value: Any, marker: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, list):
            return [_marked(v, marker) for v in value]
        if isinstance(value, dict):
            return {k: _marked(v, marker) for k, v in value.items()}
        return value
    return value if -(2**63) < value < 2**63 else f"{marker}{value}"


def _through(guard: WideIntegerGuard, body: bytes, cuts: list[int]) -> bytes:
    points = sorted({c % (len(body) + 1) for c in cuts})
    pieces = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    return b"".join(guard.feed(p) for p in pieces) + guard.finish()


@settings(max_examples=examples(300), deadline=None)
@given(_VALUES, st.lists(st.integers(min_value=0, max_value=10_000), max_size=12), st.booleans())
def test_any_chunking_changes_only_the_wide_integers(value: Any, cuts: list[int], ascii_only: bool) -> None:
    body = json.dumps([value], ensure_ascii=ascii_only).encode()
    guard = WideIntegerGuard()
    out = _through(guard, body, cuts)
    assert json.loads(out) == [_marked(value, guard.marker)]
    # and the C parser the sources use reads it, whatever the integers were
    assert list(ijson.items(out, "item", use_float=True)) == [_marked(value, guard.marker)]


def test_digits_inside_strings_and_fractions_are_left_alone() -> None:
    body = b'{"s": "99999999999999999999", "f": 0.99999999999999999999, "e": 99999999999999999999e2}'
    guard = WideIntegerGuard()
    assert _through(guard, body, [7, 30]) == body
    assert guard.rewritten == 0


def test_the_path_of_the_wide_integer_is_named() -> None:
    guard = WideIntegerGuard()
    record = json.loads(_through(guard, b'{"id": "x", "a": {"b": [1, -9223372036854775809]}}', [20]))
    assert guard.find(record) == "a.b.1"
    assert guard.find({"id": "y", "n": 9223372036854775807}) is None


def test_a_source_record_with_a_wide_integer_is_rejected_alone() -> None:
    wide = {"id": "x", "updated_at": "2026-01-02T00:00:00Z", "n": 9223372036854775808}
    fine = {"id": "y", "updated_at": "2026-01-02T00:00:00Z", "n": 9223372036854775807}
    for fmt in ("array", "pages"):
        with serve(SourceBehaviour(fmt=fmt, page_size=1)) as (url, state):
            state.put(wide, fine)
            got = list(read_records(SourceConfig(url, timeout_s=5, retries=0, backoff_s=0.01)))
        rejected = [r for r in got if isinstance(r, Rejected)]
        assert [r.id for r in rejected] == ["x"], fmt
        assert "n: an integer beyond the signed 64-bit range" in rejected[0].reason
        assert [r for r in got if not isinstance(r, Rejected)] == [fine]
