"""The test cluster's node, against the real cluster `make cluster` started (skipped unless HERMES_CLUSTER_TEST=1,
then failing when it is down: tests/cluster/conftest.py).

Containment is the host's own view: `ip addr`, `ip route show table all`, `iptables-save` and
`ip6tables-save` now against what `up` recorded before it changed anything. The data plane is proved from
pods by `smoke` (DNS, a Service through kube-proxy by ClusterIP and by name, from the node's namespace, and
a host-loopback service through an outward forward).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.cluster import containment, layout

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _node(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cluster.node", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_host_network_is_as_before_up() -> None:
    assert containment.BEFORE.exists(), "up records the host before it starts anything"
    assert containment.diff(with_sysctls=False) == []


def test_up_again_only_says_it_is_up() -> None:
    done = _node("up")
    assert done.returncode == 0, done.stderr
    assert "already up and healthy" in done.stderr


def test_the_host_reaches_the_apiserver_through_the_loopback_forward() -> None:
    kubectl = str(layout.bin_dir() / "kubectl")
    out = subprocess.run(
        [kubectl, f"--kubeconfig={layout.HOST_KUBECONFIG}", "get", "node", layout.NODE_NAME, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    addresses = {a["type"]: a["address"] for a in json.loads(out)["status"]["addresses"]}
    assert addresses["InternalIP"] == layout.NODE_IP


def test_pods_resolve_names_and_reach_services_and_the_host() -> None:
    done = _node("smoke")
    assert done.returncode == 0, done.stderr
    assert "smoke passed" in done.stderr
