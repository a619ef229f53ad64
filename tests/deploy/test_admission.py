"""Knative's own admission code is the oracle for what the chart and knative/ render.

tests/admission is a small Go program of ours that runs ``SetDefaults`` then ``Validate`` of
knative.dev/serving and knative.dev/eventing (the versions whose CRDs tests/deploy checks) — what
the Knative webhooks do when an object is created — under a cluster configuration given as
ConfigMap data (stock defaults when absent). scripts/tools.sh builds it next to helm.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import CHART, helm_template, kustomize_build, run

pytestmark = pytest.mark.deploy

PROD = CHART / "ci" / "production-values.yaml"


@pytest.fixture(scope="module")
def kustomized(tools: Path) -> list[dict[str, Any]]:
    return kustomize_build(tools)


def stock_cluster(tools: Path) -> dict[str, dict[str, str]]:
    """The ConfigMaps a Knative release installs, as shipped in its modules (scripts/tools.sh copies them).

    Serving's config-defaults and config-features ship only ``_example`` keys: their absence is the
    stock configuration. Eventing's config-br-defaults names the default Broker class; its
    config-features turns delivery-timeout on (the full-load Triggers' delivery ``timeout`` needs it).
    """
    crds = tools.parent / "knative-crds"
    shipped = yaml.safe_load((crds / "config-br-defaults.yaml").read_text())
    features = yaml.safe_load((crds / "eventing-config-features.yaml").read_text())
    return {"config-br-defaults": dict(shipped["data"]), "eventing/config-features": dict(features["data"])}


def admit(
    tools: Path, objs: list[dict[str, Any]], tmp_path: Path, raised: dict[str, dict[str, str]] | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """Run the admission check under the stock cluster configuration, with ``raised`` maps on top."""
    config = tmp_path / "cluster.yaml"
    config.write_text(yaml.safe_dump({**stock_cluster(tools), **(raised or {})}))
    # The namespace the renders are made for (helm template --namespace hermes, kustomize's namespace).
    out = run([str(tools / "hermes-admission"), str(config), "hermes"], input=yaml.safe_dump_all(objs))
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.parametrize(
    "render",
    [["chart", "default"], ["chart", "production"], ["chart", "no-broker"], ["kustomize"]],
    ids="-".join,
)
def test_knative_admits_every_object_with_stock_defaults(
    tools: Path, kustomized: list[dict[str, Any]], render: list[str], tmp_path: Path
) -> None:
    if render[0] == "kustomize":
        objs = kustomized
    else:
        extra = {"default": [], "production": ["-f", str(PROD)], "no-broker": ["--set", "broker.enabled=false"]}
        objs = helm_template(tools, *extra[render[1]])
    code, results = admit(tools, objs, tmp_path)
    refused = [r for r in results if not r["ok"]]
    assert code == 0, refused
    kinds = {r["kind"] for r in results}
    assert {"Service", "PingSource"} <= kinds
    if render[-1] != "no-broker":
        assert {"Broker", "Trigger", "SinkBinding"} <= kinds
    assert len([r for r in results if r["kind"] == "Service"]) == 3


def _full_load(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "hermes-full-load")


def test_a_timeout_over_the_clusters_maximum_is_refused_unless_raised(
    kustomized: list[dict[str, Any]], tools: Path, tmp_path: Path
) -> None:
    # Why values.schema.json caps timeoutSeconds at 600: Knative's max-revision-timeout-seconds.
    objs = copy.deepcopy(kustomized)
    _full_load(objs)["spec"]["template"]["spec"]["timeoutSeconds"] = 900
    code, results = admit(tools, objs, tmp_path)
    assert code == 1
    (refused,) = [r for r in results if not r["ok"]]
    assert refused["name"] == "hermes-full-load"
    assert "timeoutSeconds" in refused["error"]
    raised = {"config-defaults": {"max-revision-timeout-seconds": "900"}}
    assert admit(tools, objs, tmp_path, raised)[0] == 0


def test_the_tmp_volume_needs_knatives_emptydir_feature(
    kustomized: list[dict[str, Any]], tools: Path, tmp_path: Path
) -> None:
    # README § Deploy: the emptyDir at /tmp relies on kubernetes.podspec-volumes-emptydir (on by default).
    code, results = admit(
        tools, kustomized, tmp_path, {"config-features": {"kubernetes.podspec-volumes-emptydir": "disabled"}}
    )
    assert code == 1
    assert {r["name"] for r in results if not r["ok"]} == {"hermes-search", "hermes-delta-load", "hermes-full-load"}


def test_the_full_load_delivery_timeout_needs_eventings_delivery_timeout_feature(
    kustomized: list[dict[str, Any]], tools: Path, tmp_path: Path
) -> None:
    # docs/deploy.md § Long loads: the Triggers' delivery timeout relies on delivery-timeout (on in the stock
    # config-features of knative-eventing); without it Knative refuses every Trigger that sets one.
    code, results = admit(tools, kustomized, tmp_path, {"eventing/config-features": {"delivery-timeout": "disabled"}})
    assert code == 1
    refused = {r["name"]: r["error"] for r in results if not r["ok"]}
    assert set(refused) == {"hermes-full-load", "hermes-full-load-continue", "hermes-full-load-scheduled"}
    assert all("spec.delivery.timeout" in error for error in refused.values())
