"""`helm install` on the test cluster: every Knative object of the release Ready, the first load served, and the
function pods running as the chart renders them (non-root uid, read-only root), proved from inside a pod."""

from __future__ import annotations

import json
import re

import pytest

from scripts.cluster.knative import kubectl
from tests.cluster.e2e import KINDS, NAMESPACE, Release, hit_ids, pods, post_event, say, search, until

pytestmark = pytest.mark.slow

EXPECTED = {
    "ksvc": {"hermes-search", "hermes-delta-load", "hermes-full-load"},
    "broker": {"hermes", "hermes-dead-letter"},
    "trigger": {
        "hermes-delta-load",
        "hermes-full-load",
        "hermes-full-load-continue",
        "hermes-full-load-scheduled",
        "hermes-undelivered",
    },
    "pingsource": {"hermes-delta", "hermes-full"},
    "sinkbinding": {"hermes-full-load-handover"},
}


def test_every_ksvc_broker_trigger_pingsource_and_sinkbinding_is_ready(release: Release) -> None:
    say(f"helm install (images built and imported, first-load hook done) took {release.installed_s:.0f} s")
    assert set(EXPECTED) == set(KINDS)
    for kind, names in EXPECTED.items():
        kubectl("wait", "--for=condition=Ready", kind, "--all", "-n", NAMESPACE, "--timeout=600s")
        listed = json.loads(kubectl("get", kind, "-n", NAMESPACE, "-o", "json").stdout)["items"]
        ready = {
            o["metadata"]["name"]
            for o in listed
            if any(c["type"] == "Ready" and c["status"] == "True" for c in o["status"].get("conditions", []))
        }
        assert names <= ready, f"{kind}: {sorted(names - ready)} not Ready"


def test_the_install_s_first_load_is_searchable_through_the_ingress(loaded: Release) -> None:
    install_loads = [load for load in loaded.loads() if load.event_source == f"/helm/{NAMESPACE}/hermes-e2e"]
    assert install_loads, (
        "the install's first-load Job posted its event to the Broker before the full-load Trigger had subscribed "
        "to the Broker's channel, and the Broker dropped it (the scenarios posted a full load of their own)"
    )
    assert install_loads[0].status == "completed", install_loads[0]
    _, answer = until("search answers through the ingress", lambda: (r := search("Town 0007"))[0] == 200 and r, 180)
    assert "r0007" in hit_ids(answer), answer


def _exec(pod: str, container: str, *argv: str) -> tuple[int, str]:
    done = kubectl("exec", "-n", NAMESPACE, pod, "-c", container, "--", *argv, check=False)
    return done.returncode, done.stdout + done.stderr


def _woken(service: str) -> list[str]:
    """Running pods of ``service``, after giving it a reason to run: a search, the per-minute delta tick (the
    delta PingSource keeps delta_load busy), a full load posted to the Broker."""
    if service == "hermes-search":
        until("search answers (a pod runs)", lambda: search("Town")[0] == 200, 180)
    elif service == "hermes-full-load" and not pods(service):
        post_event("dev.hermes.load.full", {})
    found: list[str] = until(f"a running {service} pod", lambda: pods(service), 150)
    return found


@pytest.mark.parametrize("component", ["search", "delta-load", "full-load"])
def test_function_pods_run_as_the_rendered_non_root_uid_on_a_read_only_root(loaded: Release, component: str) -> None:
    service = f"hermes-{component}"
    ksvc = json.loads(kubectl("get", "ksvc", service, "-n", NAMESPACE, "-o", "json").stdout)
    rendered = ksvc["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    uid, gid = rendered["runAsUser"], rendered["runAsGroup"]
    assert uid != 0 and rendered["readOnlyRootFilesystem"] is True

    (pod, *_) = _woken(service)
    # What the kernel holds for the container's first process, as runc started it from the kubelet's spec.
    code, status = _exec(pod, component, "cat", "/proc/1/status")
    assert code == 0, status
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split() == [str(uid)] * 4, fields["Uid"]
    assert fields["Gid"].split() == [str(gid)] * 4, fields["Gid"]
    assert int(fields["CapEff"].strip(), 16) == 0, "every capability dropped"
    assert fields["NoNewPrivs"].strip() == "1", "allowPrivilegeEscalation: false"
    assert fields["Seccomp"].strip() == "2", "RuntimeDefault: a seccomp filter"
    # The root filesystem refuses a write, even where the image's files are; /tmp (an emptyDir) takes one.
    code, out = _exec(pod, component, "touch", "/workspace/written-by-the-cluster-test")
    assert code != 0 and re.search("Read-only file system", out), out
    code, out = _exec(pod, component, "touch", "/tmp/written-by-the-cluster-test")  # noqa: S108 -- the pod's emptyDir
    assert code == 0, out
    code, mounts = _exec(pod, component, "cat", "/proc/mounts")
    root = next(line.split() for line in mounts.splitlines() if line.split()[1] == "/")
    assert "ro" in root[3].split(","), root
    flags = root[3].split(",")[0]
    say(f"{component} pod {pod}: Uid {fields['Uid'].split()}, CapEff {fields['CapEff'].strip()}, root mounted {flags}")
