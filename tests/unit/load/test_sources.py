"""The streaming readers against a real local HTTP server and real files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hermes.errors import SourceError
from hermes.load.sources import SourceConfig, _CappedRetry, read_records
from tests.support.datasource import SourceBehaviour, record, serve

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _records(n: int) -> list[dict[str, object]]:
    return [record(f"r{i}", T0.replace(day=1 + i % 28), tags=["x"]) for i in range(n)]


def _config(url: str, **kw: object) -> SourceConfig:
    return SourceConfig(url, timeout_s=5, retries=2, backoff_s=0.01, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["array", "ndjson", "pages"])
def test_every_body_format_yields_every_record(fmt: str) -> None:
    with serve(SourceBehaviour(fmt=fmt, page_size=4)) as (url, state):
        state.put(*_records(10))
        got = list(read_records(_config(url)))
    assert sorted(r["id"] for r in got) == sorted(f"r{i}" for i in range(10))  # type: ignore[index]
    if fmt == "pages":
        assert len(state.requests) == 3  # followed relative `next` links until null


def test_since_is_sent_and_next_links_keep_it() -> None:
    with serve(SourceBehaviour(fmt="pages", page_size=2)) as (url, state):
        state.put(*_records(10))
        since = T0.replace(day=6)
        got = list(read_records(_config(url), since=since))
    assert {r["id"] for r in got} == {f"r{i}" for i in range(5, 10)}  # type: ignore[index]
    assert "since=2026-01-06T00%3A00%3A00.000000Z" in state.requests[0]


def test_bearer_token_is_sent() -> None:
    with serve(SourceBehaviour(token="s3cret")) as (url, state):
        state.put(*_records(2))
        assert len(list(read_records(_config(url, token="s3cret")))) == 2
        with pytest.raises(SourceError, match="401"):
            list(read_records(_config(url)))


def test_transient_failures_are_retried() -> None:
    with serve(SourceBehaviour(fail_next=2)) as (url, state):
        state.put(*_records(3))
        assert len(list(read_records(_config(url)))) == 3
    assert len(state.requests) == 3


def test_persistent_failure_raises_source_error() -> None:
    with serve(SourceBehaviour(status=500)) as (url, _state), pytest.raises(SourceError):
        list(read_records(_config(url)))


def test_truncated_stream_raises_after_yielding_what_arrived() -> None:
    # ~30 KB records: the first 64 KiB chunk completes two of them before the connection dies.
    records = [{**r, "content": "x" * 30_000} for r in _records(10)]
    with serve(SourceBehaviour(die_after=3)) as (url, state):
        state.put(*records)
        got: list[object] = []
        with pytest.raises(SourceError):
            got.extend(read_records(_config(url)))
    assert got == records[:2]  # complete records only, in order; the cut-off third is not yielded


def test_invalid_json_raises_source_error() -> None:
    with serve(SourceBehaviour(garbage=True)) as (url, _state), pytest.raises(SourceError):
        list(read_records(_config(url)))


def test_unreachable_source_raises_source_error() -> None:
    with pytest.raises(SourceError):
        list(read_records(_config("http://127.0.0.1:9/records")))


def test_files_json_and_ndjson_with_since(tmp_path: Path) -> None:
    records = _records(6)
    (tmp_path / "r.json").write_text(json.dumps(records))
    (tmp_path / "r.ndjson").write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    since = T0.replace(day=4)
    for name in ("r.json", "r.ndjson"):
        url = f"file://{tmp_path / name}"
        assert len(list(read_records(_config(url)))) == 6
        assert {r["id"] for r in read_records(_config(url), since)} == {"r3", "r4", "r5"}  # type: ignore[index]


def test_page_file_and_large_values(tmp_path: Path) -> None:
    big = "é" * 200_000  # spans several parser chunks
    page = {
        "next": None,
        "items": [record("a", T0, content=big), {"id": "b", "nested": [[1, 2], {"x": 1.5}]}],
    }
    (tmp_path / "p.json").write_text(json.dumps(page))
    got = list(read_records(_config(f"file://{tmp_path / 'p.json'}")))
    assert got[0]["content"] == big  # type: ignore[index]
    assert got[1] == {"id": "b", "nested": [[1, 2], {"x": 1.5}]}


def test_a_body_that_is_not_records_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('"hello"')
    with pytest.raises(SourceError, match="neither"):
        list(read_records(_config(f"file://{tmp_path / 's.json'}")))


def test_a_source_failure_is_described_in_words_without_the_url() -> None:
    import requests
    from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError

    from hermes.load.sources import SourceConfig, describe

    config = SourceConfig("http://secret@source.test/records", None, 1.0, 2)
    timeout = requests.ConnectionError(MaxRetryError(None, "/records", ReadTimeoutError(None, "/records", "read")))
    broken = requests.exceptions.ChunkedEncodingError(ProtocolError("Connection broken", ConnectionResetError()))
    assert describe(timeout, config) == "no answer within 1 s (HERMES_SOURCE_TIMEOUT_S), 2 retries spent"
    assert describe(broken, config) == "the connection broke before the body was complete"
    assert describe(ValueError("x"), config) == "unexpected error"
    assert "secret" not in describe(timeout, config)


def test_a_source_retry_after_is_capped() -> None:
    from urllib3 import HTTPResponse

    asked = HTTPResponse(body=b"", status=503, headers={"Retry-After": "20"})
    assert _CappedRetry(total=1).get_retry_after(asked) == _CappedRetry.MAX_RETRY_AFTER_S
    soon = HTTPResponse(body=b"", status=503, headers={"Retry-After": "2"})
    assert _CappedRetry(total=1).get_retry_after(soon) == 2
