"""`kn service update hermes-search --image <new tag>` ships a new revision while searches keep coming through
the ingress, and not one of them fails. The new tag names the same image content (tagged in the node's
containerd), so the test needs no code change; scripts/cluster/hotfix does the same with a rebuilt image."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from scripts.cluster import hermes_app, hotfix, node_images
from scripts.cluster.knative import kubectl
from tests.cluster.e2e import NAMESPACE, Release, hit_ids, pods, say, search, until

pytestmark = pytest.mark.slow


def _ksvc() -> dict[str, object]:
    return dict(json.loads(kubectl("get", "ksvc", "hermes-search", "-n", NAMESPACE, "-o", "json").stdout))


def _tag(source: str, target: str) -> None:
    enter = [sys.executable, "-m", "scripts.cluster.node", "enter"]
    argv = enter + node_images.ctr("images", "tag", "--force", source, target)
    subprocess.run(argv, cwd=hermes_app.ROOT, check=True, capture_output=True)


def test_kn_service_update_ships_a_new_revision_with_zero_failed_searches(loaded: Release) -> None:
    running = hotfix.running_image(NAMESPACE, "hermes-search")
    repo, _, tag = running.rpartition(":")
    new = f"{repo}:{tag[:48]}-rollout{int(time.time())}"
    _tag(running, new)
    before = _ksvc()["status"]["latestReadyRevisionName"]  # type: ignore[index]

    ok, failed = 0, []
    stop = threading.Event()

    def steady() -> None:
        nonlocal ok
        while not stop.is_set():
            status, answer = search("Town 0001", timeout_s=60)
            if status == 200 and "r0001" in hit_ids(answer):
                ok += 1
            else:
                failed.append((status, str(answer)[:200]))
            stop.wait(0.05)

    until("search warm", lambda: search("Town 0001")[0] == 200, 180)
    load = threading.Thread(target=steady, daemon=True)
    load.start()
    try:
        until("the steady load answering", lambda: ok >= 10, 120, every_s=0.5)
        started = time.monotonic()
        hotfix.update_service(NAMESPACE, "hermes-search", new)
        shipped = time.monotonic() - started
        status = _ksvc()["status"]
        after = status["latestReadyRevisionName"]  # type: ignore[index]
        assert after != before
        assert status["traffic"] == [{"revisionName": after, "percent": 100, "latestRevision": True}]  # type: ignore[index]

        # Keep searching while the old revision drains and its pods go away.
        def old_gone() -> bool:
            return not [p for p in pods("hermes-search", running=False) if p.startswith(str(before))]

        until(f"the pods of {before} gone", old_gone, 300)
    finally:
        stop.set()
        load.join()
    total = ok + len(failed)
    say(
        f"rollout {before} -> {after} ({new}): kn returned after {shipped:.0f} s; {total} searches during it, "
        f"{ok} answered, {len(failed)} failed"
    )
    assert not failed, failed[:5]
    assert ok >= 20
    assert pods("hermes-search"), "the new revision serves"
