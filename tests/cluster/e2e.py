"""What the Hermes scenarios of `make cluster-test` share: the release's names, polling, the ingress, the
Broker, the pods, and the loads' bookkeeping read from Elasticsearch (the state index of the alias ``e2e``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from hermes.client import build_client
from hermes.load.checkpoints import Checkpoints, LoadRecord, PartitionRecord
from hermes.load.state import State
from hermes.settings import Settings
from scripts.cluster import hermes_app, knative_manifests
from scripts.cluster.knative import kubectl
from tests.support.datasource import SourceBehaviour

NAMESPACE = "hermes-e2e"
RELEASE = "hermes-e2e"
SOURCE_NODE_PORT = 18091  # the data source's forward on the node IP (records:8080 -> 10.201.0.1:18091)
INGRESS = "http://127.0.0.1:18080"
SEARCH_HOST = f"hermes-search.{NAMESPACE}.{knative_manifests.DOMAIN}"
BROKER_PATH = f"/{NAMESPACE}/hermes"  # the Broker's address on Knative's broker ingress: /<namespace>/<broker>
DEAD_LETTER_PATH = f"/{NAMESPACE}/hermes-dead-letter"
KINDS = hermes_app.KINDS


def until(what: str, probe: Callable[[], Any], timeout_s: float, every_s: float = 2) -> Any:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if result := probe():
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(every_s)


def until_or_none(probe: Callable[[], Any], timeout_s: float, every_s: float = 3) -> Any:
    """Poll ``probe`` until it returns something truthy, or give up quietly with None after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (result := probe()):
        if time.monotonic() > deadline:
            return None
        time.sleep(every_s)
    return result


def say(message: str) -> None:
    """A measured figure: printed (pytest -s shows it) and kept in the captured output otherwise."""
    print(f"[cluster-test] {message}", file=sys.stderr, flush=True)  # noqa: T201


def get(path: str, host: str = SEARCH_HOST, timeout_s: float = 60) -> tuple[int, str]:
    """GET through the test bed's ingress on the host (127.0.0.1:18080) by Host header; (0, error) if none."""
    request = urllib.request.Request(INGRESS + path, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except OSError as exc:
        return 0, str(exc)


def search(q: str, timeout_s: float = 60) -> tuple[int, dict[str, Any]]:
    status, body = get("/search?" + urllib.parse.urlencode({"q": q}), timeout_s=timeout_s)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"raw": body}


def hit_ids(answer: dict[str, Any]) -> set[str]:
    return {str(hit.get("id")) for hit in answer.get("hits", [])}


def pods(service: str, *, running: bool = True) -> list[str]:
    """The pods of a Knative Service's revisions (running and not being deleted, unless ``running=False``)."""
    out = kubectl("get", "pods", "-n", NAMESPACE, "-l", f"serving.knative.dev/service={service}", "-o", "json")
    found = []
    for pod in json.loads(out.stdout)["items"]:
        alive = pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")
        if alive or not running:
            found.append(pod["metadata"]["name"])
    return found


def post_event(
    type_: str,
    data: dict[str, Any],
    *,
    source: str = "/cluster-test/curl",
    path: str = BROKER_PATH,
    id_: str | None = None,
) -> str:
    """Post one binary-mode CloudEvent with curl to the Broker's address, as an operator (or the install Job)
    does: ``http://broker-ingress.knative-eventing.svc.cluster.local/<namespace>/<broker>``. curl runs in the
    node's network namespace (scripts/cluster/enter), which reaches ClusterIPs through kube-proxy; the node
    resolves no cluster names, so curl is told the Service's ClusterIP for that name. Returns the event id."""
    event_id = id_ or f"cluster-test-{uuid.uuid4().hex[:12]}"
    ip = kubectl("get", "svc", "broker-ingress", "-n", "knative-eventing", "-o", "jsonpath={.spec.clusterIP}").stdout
    host = "broker-ingress.knative-eventing.svc.cluster.local"
    argv = [
        sys.executable,
        "-m",
        "scripts.cluster.node",
        "enter",
        "/usr/bin/curl",
        "-sS",
        "--fail-with-body",
        "--max-time",
        "30",
        "--resolve",
        f"{host}:80:{ip}",
        "-X",
        "POST",
        "-w",
        "%{http_code}",
        "-H",
        "Ce-Specversion: 1.0",
        "-H",
        f"Ce-Type: {type_}",
        "-H",
        f"Ce-Source: {source}",
        "-H",
        f"Ce-Id: {event_id}",
        "-H",
        "Content-Type: application/json",
        "--data",
        json.dumps(data),
        f"http://{host}{path}",
    ]
    done = subprocess.run(argv, cwd=hermes_app.ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"posting {type_} to the Broker: {done.stdout} {done.stderr}"
    assert done.stdout.strip().endswith("202"), f"the Broker took the event with {done.stdout!r}"
    return event_id


@dataclass
class Release:
    """The installed hermes-e2e release, and what the tests read of it."""

    es_url: str
    source: SourceBehaviour
    images: dict[str, str]
    installed_s: float
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return Settings.model_validate({"ES_URL": self.es_url, "ES_INDEX": "e2e"})

    def loads(self) -> list[LoadRecord]:
        return Checkpoints(build_client(self.settings), self.settings.state_index).recent()

    def load_of(self, event_id: str) -> LoadRecord | None:
        return next((load for load in self.loads() if load.event_id == event_id), None)

    def partitions(self, load: LoadRecord) -> list[PartitionRecord]:
        return Checkpoints(build_client(self.settings), self.settings.state_index).partitions(load)

    def idle(self) -> bool:
        """No full load running."""
        return all(load.status not in ("running", "finishing") for load in self.loads())

    def ended(self, event_id: str, timeout_s: float) -> LoadRecord:
        def check() -> LoadRecord | None:
            load = self.load_of(event_id)
            return load if load is not None and load.status not in ("running", "finishing") else None

        found: LoadRecord = until(f"the full load of event {event_id} ends", check, timeout_s, every_s=3)
        return found

    def undelivered(self) -> list[dict[str, Any]]:
        return State(build_client(self.settings), self.settings.state_index).undelivered(limit=100)[1]

    def served_count(self) -> int:
        client = build_client(self.settings)
        client.indices.refresh(index="e2e")
        return int(client.count(index="e2e")["count"])
