"""A three-node Elasticsearch cluster on loopback, one replica, nodes killed under searches and loads."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from hermes.client import build_client
from hermes.errors import NotGreenError
from hermes.load import indices
from hermes.load.full import full_load
from hermes.settings import Settings
from tests.resilience.kit import (
    FULL,
    FULL_EVENT,
    SteadySearches,
    corpus,
    env_of,
    managed,
    post_event,
    served,
    summary,
)
from tests.support.datasource import SourceBehaviour, serve
from tests.support.process import eventually, started

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _holders(client: Any, index: str) -> dict[str, int]:
    """``{"p": node number, "r": node number}`` of the index's one shard (started copies only)."""
    rows = client.cat.shards(index=index, format="json", h="prirep,node,state")
    return {r["prirep"]: int(r["node"].rsplit("-", 1)[1]) for r in rows if r["state"] == "STARTED"}


def _primaries(client: Any, index: str) -> list[int]:
    """The node number of each started primary shard of ``index``."""
    rows = client.cat.shards(index=index, format="json", h="prirep,node,state")
    return sorted(int(r["node"].rsplit("-", 1)[1]) for r in rows if r["state"] == "STARTED" and r["prirep"] == "p")


def _green(client: Any, index: str, timeout_s: float) -> bool:
    """Whether ``index`` is green within ``timeout_s`` (the wait the full load's swap makes).

    A replica lost with its node is re-created elsewhere only after index.unassigned.node_left.delayed_timeout
    (1 min by default: the node may come back).
    """
    try:
        indices.wait_green(client, index, timeout_s)
    except NotGreenError:
        return False
    return True


def _outcome(resp: requests.Response) -> str:
    body = resp.json()
    return str(body.get("status") or body["error"]["type"])


def _detail(body: dict[str, Any]) -> str:
    """What a load's answer says: its counts, or its error message."""
    if "error" in body:
        return str(body["error"].get("message"))
    return ", ".join(f"{k} {body[k]}" for k in ("indexed", "skipped", "failed", "duration_s") if k in body)


def _allocation(client: Any, value: str | None) -> None:
    client.cluster.put_settings(persistent={"cluster.routing.allocation.enable": value})


@pytest.mark.skipif(not FULL, reason="make resilience only: three more Elasticsearch processes")
def test_a_node_killed_under_searches_and_full_loads(private_es: Any, evidence: Any) -> None:  # noqa: PLR0915 - one story
    """Three-node cluster: a node killed during searches and during a full load; the swap waits for green

    The functions talk to node 0 (as to a Service). The node holding the served shard's primary is SIGKILLed
    under 20 searches a second; later a node holding a primary of a full load's new index (three shards, no
    replica while building) is killed mid-stream and restarted. No search may fail; the load must complete,
    its writes to the lost shard retried until the node is back, and the index must verify and be served.
    Finally replica allocation is switched off: a full load must not swap to a yellow index (it fails with
    `index_not_green` when HERMES_GREEN_TIMEOUT_S passes) and must swap only once allocation is back.
    """
    nodes = private_es.cluster(3)
    url, n = nodes[0].url, 5000
    client = build_client(Settings(ES_URL=url, HERMES_ES_TIMEOUT_S=60))  # type: ignore[call-arg]
    with serve(SourceBehaviour(fmt="pages", page_size=100)) as (src_url, src):
        src.put(*corpus(n))
        env = env_of(url, "cluster", src_url, HERMES_BULK_CHUNK_DOCS="100", HERMES_GREEN_TIMEOUT_S="60")
        settings = Settings(**env)  # type: ignore[arg-type]
        # The loads under test build three shards: one primary on each node, so a node other than node 0 holds one.
        # A bulk holds an item for a missing primary HERMES_ES_BULK_TIMEOUT_S / 2 = 5 s, less than a node's restart:
        # the items for the lost shard are answered 503 and sent again until it is back.
        sharded = {**env, "HERMES_INDEX_SHARDS": "3", "HERMES_ES_BULK_TIMEOUT_S": "10"}
        full_load(build_client(settings), settings)
        first = served(client, "cluster")[0]
        evidence(
            f"3 nodes formed one cluster; {first} holds {n:,} documents, copies on nodes {_holders(client, first)}"
        )
        with (
            started("search", "search", env_of(url, "cluster")) as (s_url, _),
            started("full_load", "full_load", sharded) as (f_url, _),
            SteadySearches(s_url) as load,
        ):
            time.sleep(2)
            # 1. The node holding the served primary dies under searches.
            copies = _holders(client, first)
            victim = copies["p"] if copies["p"] != 0 else copies["r"]
            nodes[victim].kill()
            t = time.monotonic()
            assert eventually(lambda: client.cluster.health()["number_of_nodes"] == 2, 120)  # the cluster noticed
            noticed = time.monotonic() - t
            regreen = _green(client, first, 180)
            time.sleep(2)
            evidence(
                f"node {victim} ({'primary' if victim == copies['p'] else 'replica'} of the served shard) "
                f"killed: the cluster dropped it after {noticed:.1f} s, the index was green again on the 2 others "
                f"after {time.monotonic() - t - 2:.1f} s ({regreen}); searches from the kill until 2 s after: "
                f"{summary(load.between(t))}"
            )
            nodes[victim] = private_es.restart(nodes[victim])
            assert _green(client, first, 120)
            # 2. The node holding the new index's primary dies mid-load, and comes back.
            src.requests, src.pause_after = [], 20
            answer: list[requests.Response] = []
            loading = threading.Thread(target=lambda: answer.append(post_event(f_url, FULL_EVENT)), daemon=True)
            loading.start()
            assert eventually(lambda: not src.gate.is_set(), 120)
            time.sleep(1)
            new = next(i for i in managed(client, "cluster") if i not in served(client, "cluster"))
            primaries = _primaries(client, new)
            victim = max(primaries)
            assert victim != 0, primaries  # node 0 answers the functions: it stays up
            t = time.monotonic()
            nodes[victim].kill()
            time.sleep(3)
            src.pause_after = None
            src.release()
            nodes[victim] = private_es.restart(nodes[victim])
            restarted = time.monotonic()
            loading.join(timeout=600)
            resp = answer[0]
            role = f"holding {primaries.count(victim)} of the new index's {len(primaries)} primaries, no replica"
            body = resp.json()
            evidence(
                f"node {victim} ({role}) killed mid-load, restarted after {restarted - t:.0f} s: "
                f"the load answered {resp.status_code} {_outcome(resp)} {time.monotonic() - t:.0f} s after the kill "
                f"({_detail(body)})"
            )
            assert (resp.status_code, body.get("status")) == (200, "completed"), body
            assert (body["indexed"], body["failed"]) == (n, 0)
            assert served(client, "cluster") == [body["index"]]
            assert client.count(index="cluster")["count"] == n
            # 3. The swap waits for green.
            _allocation(client, "primaries")
            try:
                with started("full_load", "full_load", {**sharded, "HERMES_GREEN_TIMEOUT_S": "3"}) as (short_url, _):
                    refused = post_event(short_url, FULL_EVENT, event_id="green-wait")
                before = served(client, "cluster")
                evidence(
                    f"replica allocation off, HERMES_GREEN_TIMEOUT_S=3: {refused.status_code} "
                    f"`{refused.json()['error']['type']}`; the alias stayed on {before}"
                )
                assert (refused.status_code, refused.json()["error"]["type"]) == (502, "index_not_green")
                enabled: list[float] = []
                timer = threading.Timer(15, lambda: (_allocation(client, None), enabled.append(time.monotonic())))
                timer.start()
                t = time.monotonic()
                # Knative redelivers the 502: the load, streamed already, retries only its finish.
                waited = post_event(f_url, FULL_EVENT, event_id="green-wait")
                done = time.monotonic()
                timer.join()
            finally:
                _allocation(client, None)
            evidence(
                f"allocation switched back on 15 s into the redelivery (which retries only the finish): it swapped "
                f"{done - enabled[0]:.1f} s later ({waited.status_code} {waited.json().get('status')}, "
                f"{done - t:.1f} s in all)"
            )
            assert waited.status_code == 200
            assert done > enabled[0]
            assert _green(client, waited.json()["index"], 1)
            time.sleep(1)
        evidence(f"searches through it all: {summary(load.answers)}")
        assert [a for a in load.answers if a.status != 200 or a.hits == 0] == []
        assert served(client, "cluster") != before
