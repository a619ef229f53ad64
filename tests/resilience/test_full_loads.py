"""Full loads under fire: searches during reloads, a loader killed mid-stream, Elasticsearch refusing bulks."""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from typing import Any

import pytest
import requests

from hermes.client import build_client
from hermes.load.full import full_load
from hermes.load.lock import LOCK_ID
from hermes.load.records import version_of
from hermes.settings import Settings
from hermes.timestamps import parse_rfc3339
from tests.resilience.kit import (
    FULL_EVENT,
    SteadySearches,
    corpus,
    documents,
    env_of,
    managed,
    pick,
    post_event,
    served,
    summary,
)
from tests.support.datasource import SourceBehaviour, serve
from tests.support.process import eventually, kill_tree, started

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_searches_at_a_steady_rate_during_consecutive_full_loads(
    es_url: str, es: Any, alias: str, evidence: Any
) -> None:
    """Searches during five consecutive full loads: zero non-200, zero empty results

    A search function process answers 20 searches a second while a full_load process rebuilds the index five
    times over HTTP (new index, alias swap, pruning, as shipped). Every search must answer 200 with hits.
    """
    loads, n = pick(2, 5), pick(300, 5000)
    with serve(SourceBehaviour(fmt="pages", page_size=200)) as (url, src):
        src.put(*corpus(n))
        env = env_of(es_url, alias, url)
        with started("full_load", "full_load", env) as (full_url, _), started("search", "search", env) as (s_url, _):
            assert post_event(full_url, FULL_EVENT).json()["status"] == "completed"
            durations = []
            with SteadySearches(s_url) as searches:
                # Searches answered before the first load and after the last (answers, not seconds: a busy
                # machine answers fewer in a second).
                assert eventually(lambda: len(searches.answers) >= 2 * searches.senders, 60)
                for _ in range(loads):
                    t = time.monotonic()
                    resp = post_event(full_url, FULL_EVENT)
                    assert resp.status_code == 200, resp.text
                    assert resp.json()["indexed"] == n
                    durations.append(time.monotonic() - t)
                ended = time.monotonic()
                assert eventually(lambda: len(searches.between(ended)) >= 2 * searches.senders, 60)
    answers = searches.answers
    evidence(f"{loads} full loads of {n:,} records, {min(durations):.1f}-{max(durations):.1f} s each, back to back")
    evidence(summary(answers))
    assert len(answers) > 20 * sum(durations) * 0.5  # the load generator kept its rate
    assert [a for a in answers if a.status != 200] == []
    assert [a for a in answers if a.hits == 0] == []
    assert len(served(es, alias)) == 1


def test_a_full_load_killed_mid_stream_leaves_the_served_index_and_the_next_run_cleans_up(
    es_url: str, es: Any, alias: str, evidence: Any
) -> None:
    """full_load killed with SIGKILL mid-stream: the served index is intact; the next run removes the orphan

    The loader process dies while it streams (no `finally`, no lock release). The alias and the served index
    must be as before; the dead run's lock blocks a new run only until it expires (HERMES_LOCK_TTL_S=4 here);
    the next run completes and prunes the orphan index.
    """
    n, ttl = pick(1200, 5000), 4.0
    with serve(SourceBehaviour(fmt="pages", page_size=20)) as (url, src):
        src.put(*corpus(n))
        env = env_of(es_url, alias, url, HERMES_LOCK_TTL_S=str(ttl), HERMES_BULK_CHUNK_DOCS="20")
        settings = Settings(**env)  # type: ignore[arg-type]
        full_load(build_client(settings), settings)
        before_index = served(es, alias)
        before_docs = documents(es, alias)
        src.put(*corpus(n, minutes=5, title="Revised"))
        src.requests, src.pause_after = [], pick(35, 150)
        with started("full_load", "full_load", env) as (full_url, proc):
            threading.Thread(target=_post_quietly, args=(full_url,), daemon=True).start()
            assert eventually(lambda: not src.gate.is_set(), 60)  # the load waits for its next page
            time.sleep(0.5)  # its bulk senders finish what they hold
            kill_tree(proc)
            killed_at = time.monotonic()
        src.pause_after = None
        src.release()
        orphans = sorted(set(managed(es, alias)) - set(before_index))
        es.indices.refresh(index=orphans)
        written = es.count(index=orphans)["count"]
        evidence(
            f"killed while it waited for page {len(src.requests)} of {n // 20}; the orphan {orphans[0]} held "
            f"{written:,} of {n:,} documents"
        )
        assert served(es, alias) == before_index
        assert documents(es, alias) == before_docs
        lock = es.get(index=settings.state_index, id=LOCK_ID)["_source"]
        evidence(f"the dead run's lock was left behind, expiring at {lock['expires_at']}")
        with started("full_load", "full_load", env) as (full_url, _):
            tries: list[int] = []
            while True:
                resp = post_event(full_url, FULL_EVENT)
                tries.append(resp.status_code)
                if resp.status_code != 409 or time.monotonic() - killed_at > ttl + 30:
                    break
                time.sleep(0.5)
            recovered = time.monotonic() - killed_at
    evidence(
        f"the next run: {len(tries) - 1} x 409 while the stale lock lived, then {tries[-1]}, "
        f"{recovered:.1f} s after the kill (TTL {ttl:g} s)"
    )
    assert tries[-1] == 200, resp.text
    report = resp.json()
    assert report["status"] == "completed"
    assert set(orphans) <= set(report["pruned"])
    evidence(f"it pruned {', '.join(report['pruned'])}; the alias now serves {report['index']}")
    assert managed(es, alias) == sorted({report["index"], *before_index})
    assert {d["title"] for d in documents(es, alias).values()} == {r["title"] for r in src.records.values()}
    assert recovered < ttl + 30


def _post_quietly(url: str) -> None:
    with suppress(requests.RequestException):  # the process is killed under this request: no answer comes
        post_event(url, FULL_EVENT)


def test_bulk_rejections_during_a_parallel_full_load_index_every_record_exactly_once(
    private_es: Any, evidence: Any
) -> None:
    """Real bulk rejections (a one-thread write pool, a queue of one): every record indexed exactly once

    Elasticsearch starts with `thread_pool.write.size=1` and `thread_pool.write.queue_size=1`; the full load
    sends with four parallel senders. Elasticsearch must really reject (its thread-pool stats say how often),
    and the new index must hold every record once: the same count, the same ids, each at the record's
    version, and exactly one successful indexing operation per record in the index's own statistics.
    """
    n = pick(3000, 20000)
    server = private_es.start(thread_pool__write__size="1", thread_pool__write__queue_size="1")
    client = build_client(Settings(ES_URL=server.url, HERMES_ES_TIMEOUT_S=30))  # type: ignore[call-arg]
    records = corpus(n)
    with serve() as (url, src):
        src.put(*records)
        settings = Settings(
            ES_URL=server.url,
            ES_INDEX="rejections",
            DATA_SOURCE_URL=url,  # type: ignore[call-arg]
            HERMES_BULK_WORKERS="4",
            HERMES_BULK_CHUNK_DOCS="100",
        )
        rejected_before = _write_rejections(client)
        t = time.monotonic()
        report = full_load(build_client(settings), settings)
        took = time.monotonic() - t
    rejected = _write_rejections(client) - rejected_before
    index = report["index"]
    stats = client.indices.stats(index=index, metric="indexing")["indices"][index]["primaries"]["indexing"]
    docs = documents(client, "rejections")
    evidence(
        f"{n:,} records, 4 senders of 100-document bulks: Elasticsearch rejected {rejected:,} write tasks; "
        f"the load took {took:.1f} s"
    )
    evidence(
        f"index {index}: {len(docs):,} documents, {stats['index_total']:,} successful indexing operations, "
        f"{stats['index_failed']:,} refused ones (version conflicts of re-sent items)"
    )
    assert rejected > 0, "the write pool never rejected: the scenario did not happen"
    assert report["status"] == "completed"
    assert report["failed"] == 0
    assert set(docs) == {r["id"] for r in records}
    assert len(docs) == n
    assert stats["index_total"] == n
    by_id = {r["id"]: r for r in records}
    assert all(d["_version"] == version_of(parse_rfc3339(by_id[i]["updated_at"])) for i, d in docs.items())


def _write_rejections(client: Any) -> int:
    nodes = client.nodes.stats(metric="thread_pool")["nodes"]
    return sum(int(node["thread_pool"]["write"]["rejected"]) for node in nodes.values())
