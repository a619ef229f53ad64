"""Hermes on the test cluster: its images, Elasticsearch and the demo source from the host, `helm install`.

    python -m scripts.cluster.hermes_app install   # everything below, then wait until every object is Ready
    python -m scripts.cluster.hermes_app wait      # only the wait

Elasticsearch is the project's own (``python -m scripts.local_es up``: the one `make dev` uses) and the
data source is the cities demo (``python -m scripts.demo_source``), both on the host's loopback. Pods reach
them through the node's outward forwards (scripts/cluster/forward.py) on 10.201.0.1, named inside the
namespace by selector-less Services `elasticsearch` and `records` whose EndpointSlices hold that address.
The chart is installed as a user would, with scripts/cluster/values.yaml; the first-load hook and `helm test`
use a curl image made here from the machine's own curl and the libraries it links (Debian's package).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from scripts import local_es
from scripts.cluster import knative_images, knative_manifests, layout, oci
from scripts.cluster.knative import kubectl

log = logging.getLogger("cluster.hermes")

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "hermes"
RELEASE = "hermes"
VALUES = Path(__file__).with_name("values.yaml")
# config.esIndex in values.yaml.
ES_ALIAS = "documents"
NODE_IP = "10.201.0.1"
# name -> (Service port in the namespace, port on the node IP, host loopback port or None for Elasticsearch's)
SOURCE_PORT = int(os.environ.get("DEV_SOURCE_PORT", "8090"))
CURL = Path("/usr/bin/curl")
# What `helm install` must leave Ready (kubectl wait --for=condition=Ready <kind> --all).
KINDS = ("ksvc", "broker", "trigger", "pingsource", "sinkbinding")


def helm(*args: str, capture: bool = False) -> str:
    """Run helm against the cluster; its output goes to ours unless `capture`, then it is returned."""
    tools = Path(os.environ.get("HERMES_TOOLS_BIN") or local_es.cache_dir() / "tools" / "bin")
    config = os.environ.get("HERMES_KUBECONFIG", "/var/lib/hermes-cluster/host.kubeconfig")
    argv = [str(tools / "helm"), "--kubeconfig", config, *args]
    out = subprocess.run(argv, stdout=subprocess.PIPE if capture else None, text=True, check=True)  # noqa: S603
    return out.stdout or ""


def curl_image() -> tuple[str, Path]:
    """hermes.local/curl:<Debian version>: /usr/bin/curl with every library ldd names, at the same paths."""
    query = ["dpkg-query", "-W", "-f=${Version}", "curl"]
    version = subprocess.run(query, capture_output=True, text=True, check=True).stdout.split("-")[0]  # noqa: S603
    out = layout.images_dir() / f"curl-{version}.oci.tar"
    if not out.is_file():
        ldd = subprocess.run(["ldd", str(CURL)], capture_output=True, text=True, check=True)  # noqa: S603, S607
        libs = {Path(word) for line in ldd.stdout.splitlines() for word in line.split() if word.startswith("/")}
        entries: list[oci.Entry] = [oci.File(CURL, str(CURL), mode=0o755)]
        entries += [oci.File(lib, str(lib), mode=0o755) for lib in sorted(libs)]
        entries.append(oci.File(knative_images.CA_BUNDLE, str(knative_images.CA_BUNDLE), mode=0o644))
        with tempfile.TemporaryDirectory(dir=out.parent) as work:
            layer = oci.write_layer(entries, Path(work, "curl.tar.gz"))
            oci.write_image(out, "curl", version, [layer], oci.Config(user="10001", entrypoint=[str(CURL)]))
    return oci.reference("curl", version), out


def function_images() -> dict[str, tuple[str, Path]]:
    """Build (or reuse) the three function images: function -> (reference, archive)."""
    cmd = [sys.executable, "-m", "scripts.cluster.images", "build"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    built = {}
    for line in out.stdout.splitlines():
        function, ref, archive = line.split()
        built[function] = (ref, Path(archive))
    return built


def forward(name: str, port: int, host_port: int) -> None:
    """10.201.0.1:port inside the cluster -> 127.0.0.1:host_port on the host (scripts/cluster/forward.py)."""
    from scripts.cluster import forward as fwd  # noqa: PLC0415 -- the node's module, on the cluster-node branch

    fwd.outward(name, port, host_port)


def demo_source() -> None:
    """The cities demo on the host's loopback, as a daemon the cluster's `down` stops."""
    from scripts.cluster import proc  # noqa: PLC0415 -- the node's module, on the cluster-node branch

    if proc.daemon_pid("hermes-demo-source") is None:
        argv = [sys.executable, "-m", "scripts.demo_source", "--port", str(SOURCE_PORT)]
        proc.spawn("hermes-demo-source", argv, env={"PYTHONPATH": str(ROOT)}, in_ns=False)
    proc.wait_for("the demo source", lambda: _answers(f"http://127.0.0.1:{SOURCE_PORT}/records"), timeout=120)


def _answers(url: str) -> bool:
    return subprocess.run([str(CURL), "-fsS", "-o", "/dev/null", "--max-time", "5", url], check=False).returncode == 0  # noqa: S603


def external_service(name: str, port: int, node_port: int, namespace: str) -> str:
    """A selector-less Service and its EndpointSlice: `name:port` in the namespace -> 10.201.0.1:node_port."""
    return f"""\
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  ports: [{{name: http, port: {port}, targetPort: {node_port}, protocol: TCP}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-host
  namespace: {namespace}
  labels: {{kubernetes.io/service-name: {name}, endpointslice.kubernetes.io/managed-by: hermes-cluster}}
addressType: IPv4
ports: [{{name: http, port: {node_port}, protocol: TCP}}]
endpoints: [{{addresses: ["{NODE_IP}"], conditions: {{ready: true}}}}]
"""


def backends() -> None:
    """Elasticsearch and the demo source on the host, reachable from the namespace as elasticsearch, records."""
    es = urlsplit(local_es.dev_up())
    log.info("Elasticsearch %s at %s", local_es.server_version(es.geturl()), es.geturl())
    demo_source()
    forward("hermes-es", 9200, es.port or 9200)
    forward("hermes-records", SOURCE_PORT, SOURCE_PORT)
    backend_services(NAMESPACE, SOURCE_PORT)


def backend_services(namespace: str, records_node_port: int) -> None:
    """The namespace, with `elasticsearch:9200` and `records:8080` in it led to the node's outward forwards."""
    kubectl("create", "namespace", namespace, check=False)
    manifest = external_service("elasticsearch", 9200, 9200, namespace)
    manifest += "---\n" + external_service("records", 8080, records_node_port, namespace)
    kubectl("apply", "-f", "-", stdin=manifest)


def helm_install(release: str, namespace: str, values: Path) -> dict[str, str]:
    """The function and curl images built and imported, then `helm upgrade --install` of the chart with `values`
    and those images; return function -> image reference."""
    images = function_images()
    curl_ref, curl_archive = curl_image()
    knative_images.import_all([archive for _, archive in images.values()] + [curl_archive])
    sets = [f"test.image={curl_ref}"]
    for function, key in (("search", "search"), ("delta_load", "deltaLoad"), ("full_load", "fullLoad")):
        repo, _, tag = images[function][0].rpartition(":")
        sets += [f"functions.{key}.image.repository={repo}", f"functions.{key}.image.tag={tag}"]
    args = ["upgrade", "--install", release, str(ROOT / "helm" / "hermes"), "-n", namespace, "-f", str(values)]
    # The post-install hook (the first full load) runs before helm returns; it retries while Knative settles.
    helm(*args, *[a for s in sets for a in ("--set", s)], "--timeout", "15m")
    return {function: ref for function, (ref, _) in images.items()}


def install() -> None:
    backends()
    helm_install(RELEASE, NAMESPACE, VALUES)
    wait()
    broker_forward()
    print(usage())  # noqa: T201 -- what `make cluster` leaves the user with


BROKER_PORT = 18081  # host 127.0.0.1:18081 -> the Broker's ingress inside (Knative routes no Broker through KIngress)


def broker_forward() -> None:
    """Host 127.0.0.1:BROKER_PORT -> broker-ingress.knative-eventing, so an operator's curl reaches the Broker."""
    from scripts.cluster import forward as fwd  # noqa: PLC0415 -- the node's module

    ip = kubectl("get", "svc", "broker-ingress", "-n", "knative-eventing", "-o", "jsonpath={.spec.clusterIP}").stdout
    fwd.inward("hermes-broker", BROKER_PORT, f"{ip.strip()}:80")


def usage() -> str:
    """How to search, post a full load, look inside and ship an edit: printed at the end of `make cluster`."""
    host = f"hermes-search.{NAMESPACE}.{knative_manifests.DOMAIN}"
    return f"""
Hermes runs on the test cluster (namespace {NAMESPACE}; Knative Serving + Eventing v0.50.0 on Kubernetes v1.35.4).
  search:     curl -H 'Host: {host}' 'http://127.0.0.1:18080/search?q=paris'
  full load:  make full-load URL=http://127.0.0.1:{BROKER_PORT}/{NAMESPACE}/{RELEASE}   (a CloudEvent to the Broker)
  look:       KUBECONFIG=/var/lib/hermes-cluster/host.kubeconfig kubectl get ksvc,broker,trigger -n {NAMESPACE}
              scripts/cluster/enter kubectl get pods -A      (inside the cluster's namespaces)
  edit+ship:  make cluster-hotfix FUNCTION=search         (rebuild the image, kn service update)
  prove:      make cluster-test
  remove:     make cluster-down
"""


def wait(timeout_s: float = 600) -> None:
    """Every Knative object of the release Ready, then the first full load served (posted again if lost)."""
    start = time.monotonic()
    for kind in KINDS:
        left = max(30.0, timeout_s - (time.monotonic() - start))
        kubectl("wait", "--for=condition=Ready", kind, "--all", "-n", NAMESPACE, f"--timeout={left:.0f}s")
    log.info("\n%s", kubectl("get", ",".join(KINDS), "-n", NAMESPACE).stdout)
    first_load()


def _status() -> dict[str, Any]:
    """``python -m hermes status`` against the host's Elasticsearch: the operator's view of the alias."""
    env = {**os.environ, "ES_URL": local_es.dev_up(), "ES_INDEX": ES_ALIAS, "DATA_SOURCE_URL": "file:///dev/null.json"}
    out = subprocess.run(
        [sys.executable, "-m", "hermes", "status"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout))


def first_load(timeout_s: float = 900) -> None:
    """Wait for the chart's first load to be served; post it again through the Broker if it never started.

    A Broker's InMemoryChannel accepts an event and drops it when no subscription has reached its dispatcher
    yet. The post-install hook waits for the full-load service and 15 s more before it posts, a margin, not a
    guarantee (docs/deploy.md § First full load): this is the safety net behind it. A full load holds the
    alias's lock while it runs (``hermes status``: ``lock``); with no lock and nothing
    served a minute after every object is Ready, the hook's event was lost.
    """
    start = time.monotonic()
    reposted = False
    while not (status := _status())["serving"]:
        if status["lock"] is None and not reposted and time.monotonic() - start > 60:
            log.warning("the install hook's full load never started (event lost): posting one through the Broker")
            kubectl("create", "-f", "-", stdin=_full_load_job())
            reposted = True
        if time.monotonic() - start > timeout_s:
            msg = f"nothing served behind the alias {ES_ALIAS!r} within {timeout_s:.0f} s: {status}"
            raise TimeoutError(msg)
        time.sleep(5)
    log.info("the first full load is served: %s", json.dumps(status["serving"]))


def _full_load_job() -> str:
    """The chart's own first-load Job, as helm rendered it for this release, under a fresh name and event id.

    One source of truth: the chart (helm/hermes/templates/first-load.yaml) is the product and says how the
    first load is posted. `helm get hooks` prints the hooks the release was installed with (helm.sh/helm/v3
    cmd/helm/get_hooks.go), so the repost runs that Job again instead of a copy of its curl arguments.
    """
    hooks = helm("get", "hooks", RELEASE, "-n", NAMESPACE, capture=True)
    return json.dumps(repost_job(hooks, NAMESPACE, int(time.time())))


def repost_job(hooks: str, namespace: str, stamp: int) -> dict[str, Any]:
    """The first-load Job among a release's rendered `hooks`, renamed (generateName) with its event id made
    unique: Hermes remembers the (source, id) of each load it ran (hermes/load/state.py) and skips a repeat."""
    docs = [d for d in yaml.safe_load_all(hooks) if d]
    (job,) = [d for d in docs if d["kind"] == "Job" and d["metadata"]["name"].endswith("-first-load")]
    job["metadata"] = {"generateName": f"{job['metadata']['name']}-", "namespace": namespace}
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["args"] = [f"{a}-repost-{stamp}" if a.startswith("Ce-Id: ") else a for a in container["args"]]
    return dict(job)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[cluster-hermes] %(message)s")
    parser = argparse.ArgumentParser(prog="python -m scripts.cluster.hermes_app", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["install", "wait"])
    args = parser.parse_args(argv)
    if shutil.which("socat") is None:
        parser.error("socat is missing (apt-get install socat)")
    install() if args.command == "install" else wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
