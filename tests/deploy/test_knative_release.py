"""The test cluster's Knative release (scripts/cluster/knative_manifests.py), checked without a cluster.

The release is assembled from the module sources as upstream's hack/generate-yamls.sh lists them; what
would break an install shows here first: a symlinked file lost with the module zip, a ``ko://`` left
unresolved, a setting the chart needs missing. Knative's own admission code (tests/admission) is the oracle
for the last: the chart must be admitted under the ConfigMaps the test cluster installs.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.cluster import knative_manifests
from tests.deploy.manifests import helm_template, run

pytestmark = pytest.mark.deploy


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("knative")
    paths = knative_manifests.assemble(out)
    return {p.stem: [d for d in yaml.safe_load_all(p.read_text()) if d] for p in paths}


def _crds(docs: list[dict[str, Any]]) -> set[str]:
    return {d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"}


def test_the_crds_that_module_zips_drop_are_restored(release: dict[str, list[dict[str, Any]]]) -> None:
    # Symlinks into knative.dev/networking and knative.dev/caching in the serving repo.
    assert {
        "ingresses.networking.internal.knative.dev",
        "serverlessservices.networking.internal.knative.dev",
        "certificates.networking.internal.knative.dev",
        "clusterdomainclaims.networking.internal.knative.dev",
        "images.caching.internal.knative.dev",
    } <= _crds(release["serving-crds"])
    assert _crds(release["serving-crds"]) <= _crds(release["serving-core"])
    assert "triggers.eventing.knative.dev" in _crds(release["eventing-crds"])
    assert "inmemorychannels.messaging.knative.dev" in _crds(release["in-memory-channel"])
    broker = Counter(d["kind"] for d in release["mt-channel-broker"])
    assert broker["Deployment"] == 3  # ingress, filter and the broker controller


def test_every_image_is_a_hermes_local_one_pulled_if_not_present(release: dict[str, list[dict[str, Any]]]) -> None:
    text = json.dumps(release)
    assert "ko://" not in text
    for docs in release.values():
        for doc in docs:
            for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
                assert container["image"].startswith("hermes.local/knative/"), container["image"]
                assert container["imagePullPolicy"] == "IfNotPresent"


def _config(release: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, str]]:
    """The installed ConfigMaps in tests/admission's format (eventing's prefixed, config-br-defaults bare)."""
    maps: dict[str, dict[str, str]] = {}
    for name, prefix in (("serving-core", ""), ("eventing-core", "eventing/")):
        for doc in release[name]:
            if doc["kind"] == "ConfigMap":
                key = doc["metadata"]["name"]
                data = {k: v for k, v in (doc.get("data") or {}).items() if k != "_example"}
                maps[key if key == "config-br-defaults" else prefix + key] = data
    return maps


def test_the_test_bed_settings_are_in_place(release: dict[str, list[dict[str, Any]]]) -> None:
    maps = _config(release)
    assert maps["config-network"]["ingress-class"] == knative_manifests.INGRESS_CLASS
    assert maps["config-deployment"]["registries-skipping-tag-resolving"] == "hermes.local"
    assert maps["config-deployment"]["queue-sidecar-image"] == "hermes.local/knative/serving-queue:v0.50.0"
    assert knative_manifests.DOMAIN in maps["config-domain"]
    assert "MTChannelBasedBroker" in maps["config-br-defaults"]["default-br-config"]


def test_knative_admits_the_chart_under_the_test_clusters_configuration(
    release: dict[str, list[dict[str, Any]]], tools: Path, tmp_path: Path
) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(yaml.safe_dump(_config(release)))
    objs = helm_template(tools)
    out = run([str(tools / "hermes-admission"), str(config), "hermes"], input=yaml.safe_dump_all(objs))
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 0, [r for r in results if not r["ok"]]
    assert {"Service", "Broker", "Trigger", "PingSource", "SinkBinding"} <= {r["kind"] for r in results}
    # Refused when the feature the full-load Triggers need is off: the check can fail.
    off = {**_config(release), "eventing/config-features": {"delivery-timeout": "disabled"}}
    config.write_text(yaml.safe_dump(off))
    out = run([str(tools / "hermes-admission"), str(config), "hermes"], input=yaml.safe_dump_all(objs))
    assert out.returncode == 1
