"""Knative's eventing data plane, in-process: what a Broker would do with our
functions' answers.

`hermes-dataplane` (tests/dataplane, built by scripts/tools.sh) runs knative.dev/eventing v0.50.0's own
broker filter handler (`pkg/broker/filter`) holding the Triggers the chart renders, and its dispatcher
(`pkg/kncloudevents`: `RetryConfigFromDeliverySpec`, `SelectiveRetry`, dead-letter sink) with the rendered
delivery specs, sending to real functions-framework processes on loopback. Which parts are Knative's code
and which rules it replicates (with the cited files): tests/dataplane/main.go.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hermes.client import build_client
from hermes.operator.loads import status
from tests.deploy.manifests import CHART, run
from tests.support.datasource import record, serve
from tests.support.loaders import loaders
from tests.support.process import free_port, running
from tests.support.settings import environ

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# Short backoffs so the retries run in seconds; everything else as rendered by default.
FAST = ["--set", "broker.backoffDelay=PT0.1S", "--set", "broker.fullLoadBackoffDelay=PT0.1S"]


@pytest.fixture(scope="module")
def manifests(tools: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = run([str(tools / "helm"), "template", "hermes", str(CHART), "--namespace", "hermes", *FAST])
    assert out.returncode == 0, out.stderr
    path = tmp_path_factory.mktemp("dataplane") / "rendered.yaml"
    path.write_text(out.stdout)
    return path


def deliver(tools: Path, manifests: Path, services: dict[str, str], *event: str) -> dict[str, Any]:
    """Send one event into the rendered Broker as Knative would; what every party saw, as JSON."""
    argv = [str(tools / "hermes-dataplane"), "--manifests", str(manifests), "--namespace", "hermes"]
    for name, url in services.items():
        argv += ["--service", f"{name}={url}"]
    out = subprocess.run([*argv, *event], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout))


def _to(result: dict[str, Any], trigger: str) -> list[dict[str, Any]]:
    return [d for d in result["deliveries"] if d["trigger"] == trigger]


def _dispatch(result: dict[str, Any], trigger: str) -> dict[str, Any]:
    """The dispatch of the sent event to `trigger` (a CloudEvent reply goes back into the Broker and is
    dispatched to every Trigger too: the trigger reconciler makes the Broker the Subscription's reply)."""
    (found,) = [d for d in result["dispatches"] if d["trigger"] == trigger and d["type"] == result["event"]["type"]]
    return found


def _env(es_url: str, alias: str, source_url: str, **extra: str) -> dict[str, str]:
    return environ(
        ES_URL=es_url, ES_INDEX=alias, DATA_SOURCE_URL=source_url, HERMES_FULL_PING_SOURCE="hermes-full", **extra
    )


def test_loads_through_the_broker_are_delivered_once(tools: Path, manifests: Path, es_url: str, alias: str) -> None:
    with serve() as (source_url, src):
        src.put(record("a", "2026-01-01T00:00:00Z"))
        env = _env(es_url, alias, source_url)
        with loaders(env) as (delta, full):
            services = {"hermes-full-load": full, "hermes-delta-load": delta}
            # Before any full load, a tick answers 412: Knative does not retry it (SelectiveRetry)...
            early = deliver(tools, manifests, services, "--ping", "hermes-delta")
            assert [d["status"] for d in _to(early, "hermes-delta-load")] == [412]
            # ...and, as a failed delivery, it is dead-lettered and kept by /undelivered.
            assert _dispatch(early, "hermes-delta-load")["dead_lettered"] is True
            assert [d["status"] for d in _to(early, "hermes-undelivered")] == [204]

            # A full load posted to the Broker (what the install Job and `make full-load` send).
            full_result = deliver(
                tools, manifests, services, "--type", "dev.hermes.load.full", "--source", "curl", "--data", "{}"
            )
            (done,) = full_result["deliveries"]  # exactly one request reached any function
            assert (done["trigger"], done["status"], done["reply_cloudevent"]) == ("hermes-full-load", 200, True)
            assert _dispatch(full_result, "hermes-full-load")["attempts"] == 1
            assert not any(d["dead_lettered"] for d in full_result["dispatches"])

            # The scheduled tick: the delta runs once; the nightly reconciliation's Trigger does not match it.
            src.put(record("b", "2026-01-02T00:00:00Z"))
            tick = deliver(tools, manifests, services, "--ping", "hermes-delta")
            (applied,) = tick["deliveries"]
            assert (applied["trigger"], applied["status"], applied["reply_cloudevent"]) == (
                "hermes-delta-load",
                200,
                True,
            )
            assert _dispatch(tick, "hermes-delta-load")["attempts"] == 1
            assert not any(d["dead_lettered"] for d in tick["dispatches"])

            # The nightly reconciliation PingSource reaches the full load only, which accepts it.
            nightly = deliver(tools, manifests, services, "--ping", "hermes-full")
            (rebuilt,) = nightly["deliveries"]
            assert (rebuilt["trigger"], rebuilt["status"]) == ("hermes-full-load-scheduled", 200)
            assert not any(d["dead_lettered"] for d in nightly["dispatches"])


def test_a_503_is_retried_with_backoff_then_reaches_the_dead_letter_route(
    tools: Path, manifests: Path, es_url: str, alias: str, make_settings: Any
) -> None:
    with serve() as (source_url, src):
        src.put(record("a", "2026-01-01T00:00:00Z"))
        down = f"http://127.0.0.1:{free_port()}"  # nothing listens: Elasticsearch is unreachable
        with (
            running("full_load", "full_load", _env(down, alias, source_url)) as full,
            running("delta_load", "delta_load", _env(es_url, alias, source_url)) as delta,
        ):
            services = {"hermes-full-load": full, "hermes-delta-load": delta}
            result = deliver(
                tools,
                manifests,
                services,
                "--type",
                "dev.hermes.load.full",
                "--source",
                "curl",
                "--id",
                "dataplane-503",
                "--data",
                "{}",
            )
    tries = _to(result, "hermes-full-load")
    assert [d["status"] for d in tries] == [503] * 7  # the first try and broker.fullLoadRetry (6) more
    gaps = [b["at_ms"] - a["at_ms"] for a, b in itertools.pairwise(tries)]
    # Exponential from PT0.1S: Knative waits 100 ms x 2^n before retry n+1 (pkg/kncloudevents/retries.go).
    assert all(gap >= 100 * 2**n for n, gap in enumerate(gaps)), gaps
    assert _dispatch(result, "hermes-full-load")["dead_lettered"] is True
    (kept,) = _to(result, "hermes-undelivered")
    assert (kept["path"], kept["status"], kept["knativeerrorcode"]) == ("/undelivered", 204, "503")
    shown = status(build_client(make_settings()), make_settings())["undelivered_events"]
    assert shown["total"] == 1
    assert shown["newest"][0]["event_id"] == "dataplane-503"
    assert shown["newest"][0]["error_code"] == "503"
