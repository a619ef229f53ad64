"""The full load's hand-over as the chart and knative/ wire it: SinkBinding (K_SINK) → Broker → Trigger →
full_load, with delivery timeouts that agree with the slice length and the service's timeoutSeconds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from hermes.load.events import CONTINUE, FULL_LOAD
from hermes.settings import Settings, load_settings
from tests.deploy.manifests import CHART, helm_template, kustomize_build, run

pytestmark = pytest.mark.deploy

# What a slice may still do after HERMES_SLICE_S (helm/hermes/templates/_helpers.tpl, hermes.checkLoad):
# finish its page or stop mid-page after min(30, slice/10) s (hermes/load/slices.py, SliceClock), 60 s
# to drain, refresh, verify and swap, and the longer of the wait for green and a slow hand-over to K_SINK.
FLUSH_VERIFY_SWAP_S = 60
HANDOVER_WORST_S = 160


def slice_needs(settings: Settings) -> float:
    grace = min(30.0, math.ceil(settings.slice_s / 10))
    return settings.slice_s + grace + FLUSH_VERIFY_SWAP_S + max(settings.green_timeout_s, HANDOVER_WORST_S)


@pytest.fixture(scope="module", params=["chart", "kustomize"])
def objs(request: pytest.FixtureRequest, tools: Path) -> list[dict[str, Any]]:
    return helm_template(tools) if request.param == "chart" else kustomize_build(tools)


def _one(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _full_load_spec(objs: list[dict[str, Any]]) -> dict[str, Any]:
    service = _one(objs, "Service", "hermes-full-load")
    return dict(service["spec"]["template"])


def _settings(objs: list[dict[str, Any]]) -> Settings:
    config = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("hermes-config"))
    return load_settings(config["data"])


def test_a_sinkbinding_gives_the_full_load_service_the_broker_as_k_sink(objs: list[dict[str, Any]]) -> None:
    binding = _one(objs, "SinkBinding", "hermes-full-load-handover")
    assert binding["apiVersion"] == "sources.knative.dev/v1"
    assert binding["spec"]["subject"] == {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "name": "hermes-full-load",
    }
    broker = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "hermes"}
    assert binding["spec"]["sink"]["ref"] == broker
    # Knative's SinkBinding sets K_SINK (tests/dataplane runs its Do); the function reads that very name.
    assert Settings.model_fields["k_sink"].validation_alias == "K_SINK"


def test_the_continue_trigger_brings_the_hand_over_back_to_full_load(objs: list[dict[str, Any]]) -> None:
    trigger = _one(objs, "Trigger", "hermes-full-load-continue")
    assert trigger["spec"]["broker"] == "hermes"
    assert trigger["spec"]["filter"]["attributes"] == {"type": CONTINUE}
    assert trigger["spec"]["subscriber"]["ref"]["name"] == "hermes-full-load"
    assert trigger["spec"]["delivery"]["deadLetterSink"]["ref"]["name"] == "hermes-dead-letter"


def test_every_full_load_delivery_times_out_with_the_service(objs: list[dict[str, Any]]) -> None:
    timeout = _full_load_spec(objs)["spec"]["timeoutSeconds"]
    triggers = [
        o for o in objs if o["kind"] == "Trigger" and o["spec"]["subscriber"]["ref"]["name"] == "hermes-full-load"
    ]
    assert {t["spec"]["filter"]["attributes"]["type"] for t in triggers} >= {FULL_LOAD, CONTINUE}
    assert {t["spec"]["delivery"]["timeout"] for t in triggers} == {f"PT{timeout}S"}
    # A redelivery meets its partition claimed (409) by the slice still running, or by a killed one until the
    # lock's TTL: every full-load Trigger keeps retrying longer than one request and the TTL.
    ttl = _settings(objs).lock_ttl_s
    for trigger in triggers:
        delivery = trigger["spec"]["delivery"]
        first = float(delivery["backoffDelay"].removeprefix("PT").removesuffix("S"))
        assert delivery["backoffPolicy"] == "exponential"
        assert first * (2 ** delivery["retry"] - 1) > max(timeout, ttl), trigger["metadata"]["name"]


def test_the_slice_and_its_margin_fit_in_the_request(objs: list[dict[str, Any]]) -> None:
    settings = _settings(objs)
    spec = _full_load_spec(objs)
    assert slice_needs(settings) <= spec["spec"]["timeoutSeconds"]
    assert spec["spec"]["containerConcurrency"] == 1
    assert int(spec["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"]) >= settings.load_partitions


def test_the_broker_answers_a_hand_over_before_the_next_slice_runs(objs: list[dict[str, Any]]) -> None:
    # An InMemoryChannel is synchronous unless annotated: the sender would wait for the whole next slice.
    broker = _one(objs, "Broker", "hermes")
    assert broker["metadata"]["annotations"]["messaging.knative.dev/async-handler"] == "true"
    assert "annotations" not in _one(objs, "Broker", "hermes-dead-letter")["metadata"]


def _render_error(tools: Path, *args: str) -> str:
    out = run([str(tools / "helm"), "template", "hermes", str(CHART), *args])
    assert out.returncode != 0, args
    return out.stderr


def test_the_chart_refuses_a_slice_without_margin(tools: Path) -> None:
    # Defaults: 300 + 30 + 60 + max(120, 160) = 550 <= 600; 351 s leaves less than the margin.
    assert helm_template(tools, "--set", "load.sliceSeconds=350")
    error = _render_error(tools, "--set", "load.sliceSeconds=351")
    assert "load.sliceSeconds 351 leaves too little margin below functions.fullLoad.timeoutSeconds 600" in error
    error = _render_error(tools, "--set", "load.greenTimeoutSeconds=300")
    assert "a slice may run 690 s" in error
    rendered = helm_template(tools, "--set", "load.sliceSeconds=60")
    assert slice_needs(_settings(rendered)) <= _full_load_spec(rendered)["spec"]["timeoutSeconds"]


def test_the_chart_fans_out_only_as_far_as_max_scale(tools: Path) -> None:
    error = _render_error(tools, "--set", "load.partitions=4")
    assert "functions.fullLoad.scaling.maxScale 1 is below load.partitions 4" in error
    objs = helm_template(tools, "--set", "load.partitions=4", "--set", "functions.fullLoad.scaling.maxScale=4")
    assert _settings(objs).load_partitions == 4


def test_slice_settings_come_from_the_load_values_only(tools: Path) -> None:
    for name in ("HERMES_SLICE_S", "HERMES_LOAD_PARTITIONS", "HERMES_GREEN_TIMEOUT_S"):
        error = _render_error(tools, "--set-string", f"config.extra.{name}=1")
        assert "values don't meet the specifications of the schema" in error
    assert "values don't meet" in _render_error(tools, "--set", "load.sliceSeconds=0")
    settings = _settings(helm_template(tools, "--set", "load.sliceSeconds=120", "--set", "load.greenTimeoutSeconds=60"))
    assert (settings.slice_s, settings.green_timeout_s) == (120, 60)
