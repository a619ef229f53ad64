"""Knative Serving and Eventing on the test cluster, proven without Hermes (tests/cluster/hello).

A Knative Service becomes Ready behind the test bed's ingress, answers through 127.0.0.1:18080 by its Host
header, scales to zero, and a request brings it back; a PingSource's tick goes through an MT channel-based
Broker and a Trigger to it. Needs the cluster with Knative installed (``make cluster``); skipped unless
``HERMES_CLUSTER_TEST=1`` (tests/cluster/conftest.py: ``make cluster-test`` sets it, and then a cluster that
is down fails).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.cluster import knative_images, knative_manifests
from scripts.cluster.knative import kubectl
from tests.cluster.e2e import until

pytestmark = pytest.mark.slow

# A fresh name each run: a namespace deleted and made again at once with the same revision names meets the
# autoscaler's state of the old revision ("error creating metric"), and then never scales it to zero.
NS = f"knative-smoke-{int(time.time())}"
INGRESS = "http://127.0.0.1:18080"
HOST = f"hello.{NS}.{knative_manifests.DOMAIN}"

HELLO = f"""\
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {{name: hello, namespace: {NS}}}
spec:
  template:
    metadata:
      annotations:
        # A short stable window, so that scaling to zero takes seconds plus the grace period, not a minute.
        autoscaling.knative.dev/window: 6s
        autoscaling.knative.dev/max-scale: "1"
    spec:
      # Also the pod's termination grace (Knative sets it to the request timeout): the teardown stays short.
      timeoutSeconds: 30
      containers:
        - image: hermes.local/{knative_images.HELLO}:{knative_images.HELLO_TAG}
          imagePullPolicy: IfNotPresent
          securityContext: {{runAsNonRoot: true, allowPrivilegeEscalation: false}}
"""
EVENTING = f"""\
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {{name: default, namespace: {NS}}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {{name: hello-ping, namespace: {NS}}}
spec:
  broker: default
  filter: {{attributes: {{type: dev.knative.sources.ping}}}}
  subscriber: {{ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: hello}}}}
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {{name: every-minute, namespace: {NS}}}
spec:
  schedule: "* * * * *"
  timezone: Etc/UTC
  contentType: application/json
  data: '{{"from": "the knative smoke test"}}'
  sink: {{ref: {{apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}}}
"""


def get(path: str = "/") -> tuple[int, str]:
    request = urllib.request.Request(INGRESS + path, headers={"Host": HOST})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except OSError as exc:
        return 0, str(exc)


def replicas() -> int:
    """The replicas Knative's autoscaler asks of hello's Deployment (pods may still be draining at 0)."""
    out = kubectl(
        "get",
        "deployment",
        "-n",
        NS,
        "-l",
        "serving.knative.dev/service=hello",
        "-o",
        "jsonpath={.items[*].spec.replicas}",
    )
    return sum(int(n) for n in out.stdout.split())


@pytest.fixture(scope="module")
def hello() -> Iterator[None]:
    assert Path("/run/hermes-cluster/ns.pid").exists(), "the test cluster is not up: make cluster"
    knative_images.import_all([knative_images.hello_image()])
    kubectl("create", "namespace", NS, check=False)
    kubectl("apply", "-f", "-", stdin=HELLO)
    yield
    kubectl("delete", "namespace", NS, "--timeout=300s", check=False)


def test_a_service_is_ready_answers_scales_to_zero_and_comes_back(hello: None) -> None:
    kubectl("wait", "--for=condition=Ready", "ksvc/hello", "-n", NS, "--timeout=300s")
    status, body = until("hello through the ingress", lambda: (answer := get())[0] == 200 and answer, 120)
    assert body.startswith("hello from hello-0000")
    until("hello scaled to zero", lambda: replicas() == 0, 180, every_s=5)
    started = time.monotonic()
    status, body = get()
    assert status == 200, body
    assert body.startswith("hello from hello-0000")
    assert replicas() >= 1, "a request through the ingress scaled it up again"
    print(f"cold start through the activator: {time.monotonic() - started:.1f} s")  # noqa: T201


def test_a_pingsource_tick_reaches_the_service_through_a_broker_and_a_trigger(hello: None) -> None:
    kubectl("apply", "-f", "-", stdin=EVENTING)
    for kind in ("broker/default", "trigger/hello-ping", "pingsource/every-minute"):
        kubectl("wait", "--for=condition=Ready", kind, "-n", NS, "--timeout=300s")

    def pinged() -> list[dict[str, str]]:
        status, body = get("/events")
        events = (json.loads(body) if status == 200 else None) or []
        return [e for e in events if e["type"] == "dev.knative.sources.ping"]

    (event, *_) = until("a PingSource tick delivered", pinged, 150)
    assert event["source"] == f"/apis/v1/namespaces/{NS}/pingsources/every-minute"
