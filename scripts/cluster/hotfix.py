"""Ship the working tree's code of one function to the test cluster as a new Knative revision, in seconds.

    python -m scripts.cluster.hotfix search                       # the `hermes` release in namespace hermes
    python -m scripts.cluster.hotfix full_load --namespace hermes-e2e
    scripts/cluster/hotfix search                                 # the same, as `make cluster-hotfix FUNCTION=search`

The project's answer to `skaffold dev`: rebuild the function's image (scripts.cluster.images: only the app layer
changes, about a second), import it into the node's containerd, and `kn service update <fullname>-<function>
--image <new tag>`, which rolls a new revision and shifts the traffic once it is Ready (the old revision drains).
The image tag is a hash of the image, so an unchanged tree gives the running tag and nothing rolls. The chart's
release still names the old tag: the next `helm upgrade` (scripts.cluster.hermes_app install) rebuilds and
sets it again.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from scripts import local_es
from scripts.cluster import images, knative_images, layout
from scripts.cluster.knative import kubectl

log = logging.getLogger("cluster.hotfix")


def kn_binary() -> Path:
    return Path(os.environ.get("HERMES_TOOLS_BIN") or local_es.cache_dir() / "tools" / "bin") / "kn"


def service_name(function: str, fullname: str = "hermes") -> str:
    return f"{fullname}-{images.FUNCTIONS[function]}"


def running_image(namespace: str, service: str) -> str:
    path = "jsonpath={.spec.template.spec.containers[0].image}"
    return kubectl("get", "ksvc", service, "-n", namespace, "-o", path).stdout.strip()


def update_service(namespace: str, service: str, image: str, timeout_s: int = 600) -> None:
    """`kn service update SERVICE --image IMAGE`, waiting until the new revision is Ready and serves."""
    config = os.environ.get("HERMES_KUBECONFIG", str(layout.HOST_KUBECONFIG))
    argv = [
        str(kn_binary()),
        "service",
        "update",
        service,
        "-n",
        namespace,
        "--image",
        image,
        "--kubeconfig",
        config,
        "--wait",
        "--wait-timeout",
        str(timeout_s),
    ]
    subprocess.run(argv, check=True)  # noqa: S603


def hotfix(function: str, namespace: str, fullname: str) -> str:
    """Build, import and roll out ``function``; return the image it now runs."""
    started = time.monotonic()
    ((_, ref, archive),) = images.build([function])
    service = service_name(function, fullname)
    if running_image(namespace, service) == ref:
        log.info("%s already runs %s: nothing changed since", service, ref)
        return ref
    knative_images.import_all([archive])
    update_service(namespace, service, ref)
    log.info("%s runs %s (%.1f s)", service, ref, time.monotonic() - started)
    return ref


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[cluster-hotfix] %(message)s")
    parser = argparse.ArgumentParser(prog="python -m scripts.cluster.hotfix", description=__doc__.splitlines()[0])
    parser.add_argument("function", choices=sorted(images.FUNCTIONS))
    parser.add_argument("--namespace", default="hermes", help="the release's namespace (default: hermes)")
    parser.add_argument("--fullname", default="hermes", help="the chart's fullname, the services' prefix")
    args = parser.parse_args(argv)
    hotfix(args.function, args.namespace, args.fullname)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
