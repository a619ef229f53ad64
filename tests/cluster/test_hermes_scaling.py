"""Search scales to zero when idle and a request through the ingress brings it back, through the activator.

The cold start (request sent with no search pod at all → answer) is printed, never asserted against a wall
clock: on this shared 2-core machine it says more about the neighbours than about Hermes. docs/cluster.md
keeps the figures measured.
"""

from __future__ import annotations

import json
import time

import pytest

from scripts.cluster.knative import kubectl
from tests.cluster.e2e import NAMESPACE, Release, hit_ids, pods, say, search, until

pytestmark = pytest.mark.slow


def _sks_mode() -> str:
    ksvc = json.loads(kubectl("get", "ksvc", "hermes-search", "-n", NAMESPACE, "-o", "json").stdout)
    revision = ksvc["status"]["latestReadyRevisionName"]
    return kubectl("get", "sks", revision, "-n", NAMESPACE, "-o", "jsonpath={.spec.mode}").stdout


def test_search_scales_to_zero_when_idle_and_a_request_through_the_ingress_brings_it_back(loaded: Release) -> None:
    status, _ = until("search answers", lambda: (r := search("Town"))[0] == 200 and r, 180)
    idle_from = time.monotonic()
    until("every search pod gone after the last request", lambda: not pods("hermes-search", running=False), 420, 5)
    say(f"search scaled to zero {time.monotonic() - idle_from:.0f} s after its last request")
    # At zero the revision's ServerlessService routes to the activator, which holds the request until a pod is up.
    assert _sks_mode() == "Proxy"

    started = time.monotonic()
    status, answer = search("Town 0003", timeout_s=180)
    cold = time.monotonic() - started
    assert status == 200, answer
    assert "r0003" in hit_ids(answer)
    assert pods("hermes-search"), "the request started a search pod"
    say(f"search cold start through the activator (request at zero pods -> answer): {cold:.1f} s")
    loaded.notes["cold_start_s"] = f"{cold:.1f}"

    started = time.monotonic()
    status, _ = search("Town 0004")
    say(f"the next search, warm: {1000 * (time.monotonic() - started):.0f} ms")
    assert status == 200
