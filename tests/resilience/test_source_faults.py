"""Data-source faults: reset, stall, truncated and invalid JSON, 5xx bursts, against both loaders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hermes.client import build_client
from hermes.load.full import cancel, full_load
from hermes.load.state import State
from hermes.settings import load_settings
from tests.resilience.kit import (
    DELTA_EVENT,
    FULL_EVENT,
    corpus,
    documents,
    env_of,
    pick,
    post_event,
    served,
)
from tests.support.datasource import SourceBehaviour, serve
from tests.support.loaders import loaders
from tests.support.process import started

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETRIES = 2


def _reset(src: SourceBehaviour) -> None:
    src.reset_after = 5


def _stall(src: SourceBehaviour) -> None:
    src.hold()


def _truncated(src: SourceBehaviour) -> None:
    src.raw_body = b'[{"id": "r-000000", "updated_at": "2026-01-02T00:00:00Z", "title": "cut"}, {"id": "r-0'


def _invalid(src: SourceBehaviour) -> None:
    src.raw_body = b"<html><body>502 Bad Gateway</body></html>"
    src.raw_type = "application/json"


def _burst(src: SourceBehaviour) -> None:
    src.fail_next = 10 * (RETRIES + 1)  # outlasts every retry of both loads


FAULTS: dict[str, Callable[[SourceBehaviour], None]] = {
    "connection reset mid-stream (TCP RST after 5 records)": _reset,
    "stall past the read timeout (no byte for longer than HERMES_SOURCE_TIMEOUT_S=1)": _stall,
    "truncated JSON (a complete HTTP answer whose array stops mid-record)": _truncated,
    "invalid JSON (an HTML error page labelled application/json)": _invalid,
    "a 5xx burst longer than the retries (HERMES_SOURCE_RETRIES=2)": _burst,
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_source_fault_changes_nothing_served(fault: str, es_url: str, es: Any, alias: str, evidence: Any) -> None:
    """Data-source fault: no swap, no watermark advance, a clear error

    After a successful full load, the source misbehaves; a delta and then a full load are sent to the function
    processes. Each must answer a 5xx JSON error naming the source, leave the alias on the same index with
    the same documents, and keep the stored watermark. The full load keeps its building index and checkpoint
    for the redelivery that resumes it; cancelled, it leaves no index behind.
    """
    n = pick(300, 3000)
    with serve(SourceBehaviour(fmt="array")) as (url, src):
        src.put(*corpus(n))
        env = env_of(es_url, alias, url, HERMES_SOURCE_TIMEOUT_S="1", HERMES_SOURCE_RETRIES=str(RETRIES))
        settings = load_settings(env)
        full_load(build_client(settings), settings)
        index, docs = served(es, alias), documents(es, alias)
        state = State(es, settings.state_index)
        watermark = state.watermark()
        src.put(*corpus(n, minutes=30, title="Changed"))
        FAULTS[fault](src)
        with loaders(env) as (delta_url, full_url):
            delta = post_event(delta_url, DELTA_EVENT)
            full = post_event(full_url, FULL_EVENT)
        src.release()
    for name, resp in (("full load", full), ("delta", delta)):
        error = resp.json()["error"]
        evidence(f"{name}: {resp.status_code} `{error['type']}`: {error['message'][:160]}")
        assert resp.status_code >= 500
        assert error["type"] == "source_error"
    assert served(es, alias) == index
    assert documents(es, alias) == docs
    assert state.watermark() == watermark
    cancelled = cancel(build_client(settings), settings)  # no redelivery comes here: an operator ends it
    assert cancelled["status"] == "cancelled"
    assert len(es.indices.get(index=f"{alias}-*")) == 1
    evidence(f"alias still on {index[0]} with its {len(docs):,} documents unchanged; watermark still {watermark}")


def test_a_5xx_burst_shorter_than_the_retries_loads_everything(es_url: str, es: Any, alias: str, evidence: Any) -> None:
    """A 5xx burst shorter than the retries: the load rides it out and loads everything

    The other side of the burst above: two 503 answers, then a healthy source. The retries (with backoff and
    the source's `Retry-After`) must absorb it and the full load must complete with every record.
    """
    n = pick(300, 3000)
    with serve(SourceBehaviour(fail_next=2, retry_after="1")) as (url, src):
        src.put(*corpus(n))
        env = env_of(es_url, alias, url, HERMES_SOURCE_RETRIES="3")
        with started("full_load", "full_load", env) as (full_url, _):
            resp = post_event(full_url, FULL_EVENT)
    evidence(
        f"{len(src.requests)} requests to the source (2 answered 503); the load: {resp.status_code} "
        f"{resp.json().get('status')}, {resp.json().get('indexed')} indexed"
    )
    assert resp.status_code == 200
    assert resp.json()["indexed"] == n
    assert len(documents(es, alias)) == n
