"""Knative Serving and Eventing v0.50.0 on the test cluster: release YAML, images, install.

    python -m scripts.cluster.knative manifests   # assemble $CACHE/cluster/manifests/*.yaml from the modules
    python -m scripts.cluster.knative images      # OCI archives of the Knative binaries, imported into containerd
    python -m scripts.cluster.knative install     # all of the above, apply, wait until Knative answers

What is assembled and patched: scripts/cluster/knative_manifests.py; how images are made:
scripts/cluster/knative_images.py; the choices: docs/cluster.md § Knative. kubectl runs on the host through
the apiserver's loopback forward (host.kubeconfig; ``HERMES_KUBECONFIG`` overrides it).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from scripts import local_es
from scripts.cluster import knative_images, knative_manifests, layout

log = logging.getLogger("cluster.knative")

NAMESPACES = ("knative-serving", "knative-eventing")
# Applied in this order: CRDs first (server-side: some exceed the 256 KiB client-side annotation), then
# the cores, then the channel and the broker that need the cores' CRDs and namespaces.
ORDER = ["serving-crds", "eventing-crds", "serving-core", "eventing-core", "in-memory-channel", "mt-channel-broker"]
HOST_KUBECONFIG = Path("/var/lib/hermes-cluster/host.kubeconfig")
# What each webhook must admit before the install counts as done (server-side dry runs go through them).
PROBES = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: knative-install-probe, namespace: default}
spec:
  template:
    spec:
      containers: [{image: hermes.local/knative/probe:v0}]
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: knative-install-probe, namespace: default}
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: knative-install-probe, namespace: default}
spec:
  schedule: "* * * * *"
  timezone: Etc/UTC
  sink: {uri: "http://example.invalid/"}
"""


def manifests_dir() -> Path:
    return local_es.cache_dir() / "cluster" / "manifests"


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the cluster's kubectl (the cache's v1.35.4 when built) against the test cluster."""
    own = layout.bin_dir() / "kubectl"
    binary = str(own) if own.is_file() else shutil.which("kubectl") or "kubectl"
    config = os.environ.get("HERMES_KUBECONFIG", str(HOST_KUBECONFIG))
    cmd = [binary, "--kubeconfig", config, *args]
    return subprocess.run(cmd, input=stdin, text=True, capture_output=True, check=check)  # noqa: S603


def _retry(what: str, attempt: Sequence[str], timeout_s: float, stdin: str | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        out = kubectl(*attempt, stdin=stdin, check=False)
        if out.returncode == 0:
            return
        if time.monotonic() > deadline:
            msg = f"{what}: not within {timeout_s:.0f} s: {out.stderr.strip()[-600:]}"
            raise TimeoutError(msg)
        time.sleep(3)


def apply(paths: dict[str, Path]) -> None:
    for name in ORDER:
        log.info("applying %s", paths[name].name)
        kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=hermes-cluster", "-f", str(paths[name]))
        if name.endswith("crds"):
            kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=120s")


def wait_ready(timeout_s: float = 600) -> None:
    """Every Knative Deployment Available, then each webhook admitting a dry-run object."""
    for ns in NAMESPACES:
        _retry(
            f"deployments of {ns} Available",
            ["wait", "--for=condition=Available", "deployment", "--all", "-n", ns, f"--timeout={timeout_s:.0f}s"],
            timeout_s,
        )
    _retry("Knative webhooks", ["apply", "--dry-run=server", "-f", "-"], timeout_s, stdin=PROBES)


def install() -> None:
    paths = {p.stem: p for p in knative_manifests.assemble(manifests_dir())}
    knative_images.import_all(knative_images.build_all())
    start = time.monotonic()
    apply(paths)
    wait_ready()
    log.info("Knative Serving and Eventing %s ready in %.0f s", knative_manifests.VERSION, time.monotonic() - start)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[cluster-knative] %(message)s")
    parser = argparse.ArgumentParser(prog="python -m scripts.cluster.knative", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["manifests", "images", "install"])
    parser.add_argument("--no-import", action="store_true", help="images: write the archives only")
    args = parser.parse_args(argv)
    if args.command == "manifests":
        for path in knative_manifests.assemble(manifests_dir()):
            log.info("wrote %s", path)
    elif args.command == "images":
        archives = knative_images.build_all()
        log.info("wrote %d archives in %s", len(archives), layout.images_dir())
        if not args.no_import:
            knative_images.import_all(archives)
    else:
        install()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
