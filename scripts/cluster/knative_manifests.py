"""Assemble Knative Serving and Eventing release YAML from the Go module sources, for the test cluster.

Upstream builds its release with ``ko resolve`` over config folders (knative/serving hack/generate-yamls.sh,
knative/eventing hack/generate-yamls.sh); :data:`RELEASE` lists the same folders. Module zips drop
symlinks, so the files serving links from its vendored knative.dev/networking and knative.dev/caching (and
eventing from its own third_party/) are read from their targets (:data:`LINKED`), at the versions serving's
go.mod requires. Each ``ko://<importpath>`` becomes ``hermes.local/knative/<component>:v0.50.0``
(:data:`COMPONENTS`); the test bed's settings are patched in by :func:`patch` and written down there.

Standard library plus PyYAML.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

SERVING = "knative.dev/serving"
EVENTING = "knative.dev/eventing"
VERSION = "v0.50.0"
REGISTRY = "hermes.local/knative"
INGRESS_CLASS = "hermes.ingress.networking.knative.dev"
# Names under this domain are never looked up: the ingress routes on the Host header (docs/cluster.md).
DOMAIN = "hermes.test"
# The node has 2 cores for Knative, Hermes and the control plane: stock Knative requests ~1.4 cores of CPU
# at rest, which would leave the functions Pending. Requests only (what the scheduler counts); limits stay.
CPU_REQUEST = "25m"

Doc = dict[str, Any]

# Knative binary (import path) -> component; image hermes.local/knative/<component>:<VERSION>, built from
# $CACHE/cluster/bin/knative-<component>.
COMPONENTS = {
    f"{SERVING}/cmd/activator": "serving-activator",
    f"{SERVING}/cmd/autoscaler": "serving-autoscaler",
    f"{SERVING}/cmd/controller": "serving-controller",
    f"{SERVING}/cmd/webhook": "serving-webhook",
    f"{SERVING}/cmd/queue": "serving-queue",
    f"{EVENTING}/cmd/controller": "eventing-controller",
    f"{EVENTING}/cmd/webhook": "eventing-webhook",
    f"{EVENTING}/cmd/in_memory/channel_controller": "eventing-imc-controller",
    f"{EVENTING}/cmd/in_memory/channel_dispatcher": "eventing-imc-dispatcher",
    f"{EVENTING}/cmd/broker/ingress": "eventing-mt-broker-ingress",
    f"{EVENTING}/cmd/broker/filter": "eventing-mt-broker-filter",
    f"{EVENTING}/cmd/mtchannel_broker": "eventing-mt-broker-controller",
    f"{EVENTING}/cmd/mtping": "eventing-mtping",
    # Named in the controller's environment only (used when an ApiServerSource or OIDC is set up): never run here.
    f"{EVENTING}/cmd/apiserver_receive_adapter": "eventing-apiserver-receive-adapter",
    f"{EVENTING}/cmd/auth_proxy": "eventing-auth-proxy",
}
# Data planes of features Hermes does not use (JobSink, RequestReply): their workloads are left out, so
# no image is built for them and every workload installed can become ready.
UNUSED_WORKLOADS = {"job-sink", "request-reply"}

# release file -> (module, [(folder, recursive)]), as in the repos' hack/generate-yamls.sh.
RELEASE: dict[str, tuple[str, list[tuple[str, bool]]]] = {
    "serving-crds.yaml": (SERVING, [("config/core/300-resources", False), ("config/core/300-imagecache.yaml", False)]),
    "serving-core.yaml": (SERVING, [("config/core", True)]),
    "eventing-crds.yaml": (EVENTING, [("config/core/resources", False)]),
    "eventing-core.yaml": (EVENTING, [("config/core", True)]),
    "in-memory-channel.yaml": (EVENTING, [("config/channels/in-memory-channel", True)]),
    "mt-channel-broker.yaml": (EVENTING, [("config/brokers/mt-channel-broker", False)]),
}
# Symlinks in the repos (git ls-tree: mode 120000) that module zips drop: path -> (module, target path).
# Serving's as tagged v0.50.0; eventing's as on its main branch in June 2026 (each target exists in v0.50.0).
NETWORKING = "knative.dev/networking"
CACHING = "knative.dev/caching"
LINKED = {
    SERVING: {
        "config/core/300-imagecache.yaml": (CACHING, "config/image.yaml"),
        "config/core/300-resources/certificate.yaml": (NETWORKING, "config/certificate.yaml"),
        "config/core/300-resources/domain-claim.yaml": (NETWORKING, "config/domain-claim.yaml"),
        "config/core/300-resources/ingress.yaml": (NETWORKING, "config/ingress.yaml"),
        "config/core/300-resources/serverlessservice.yaml": (NETWORKING, "config/serverlessservice.yaml"),
        "config/core/configmaps/network.yaml": (NETWORKING, "config/config-network.yaml"),
    },
    EVENTING: {
        "config/core/configmaps/eventing-integrations-images.yaml": (
            EVENTING,
            "third_party/eventing-integrations-latest/eventing-integrations-images.yaml",
        ),
        "config/core/configmaps/eventing-transformations-images.yaml": (
            EVENTING,
            "third_party/eventing-integrations-latest/eventing-transformations-images.yaml",
        ),
        **{
            f"config/brokers/mt-channel-broker/{link}.yaml": (
                EVENTING,
                f"config/brokers/mt-channel-broker/{target}.yaml",
            )
            for link, target in {
                "200-channel-clusterrole": "roles/controller-clusterrole",
                "200-filter-clusterrole": "roles/filter-clusterrole",
                "200-filter-role": "roles/filter-role",
                "200-filter-serviceaccount": "roles/filter-serviceaccount",
                "200-ingress-clusterrole": "roles/ingress-clusterrole",
                "200-ingress-roles": "roles/ingress-role",
                "200-ingress-serviceaccount-oidc": "roles/ingress-serviceaccount-oidc",
                "200-ingress-serviceaccount": "roles/ingress-serviceaccount",
                "201-channel-clusterrolebinding": "roles/controller-clusterrolebinding",
                "201-filter-clusterrolebinding": "roles/filter-clusterrolebinding",
                "201-filter-rolebinding": "roles/filter-rolebinding",
                "201-ingress-clusterrolebinding": "roles/ingress-clusterrolebinding",
                "201-ingress-rolebinding": "roles/ingress-rolebinding",
                "500-broker-filter": "deployments/broker-filter",
                "500-broker-ingress": "deployments/broker-ingress",
                "500-mt-broker-controller": "deployments/controller",
                "hpa": "deployments/hpa",
            }.items()
        },
    },
}


def image(component: str) -> str:
    """The test bed's image reference of a Knative component."""
    return f"{REGISTRY}/{component}:{VERSION}"


def module_dir(module: str, version: str) -> Path:
    """The source dir of ``module@version`` in the Go module cache (``go mod download`` fetches it once)."""
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOWORK": "off"}
    out = subprocess.run(  # noqa: S603
        ["go", "mod", "download", "-json", f"{module}@{version}"],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )
    return Path(json.loads(out.stdout)["Dir"])


def required_version(go_mod: Path, module: str) -> str:
    """The version of ``module`` a go.mod requires."""
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)} (\S+)", go_mod.read_text(), re.MULTILINE)
    if not match:
        msg = f"{go_mod} does not require {module}"
        raise LookupError(msg)
    return match.group(1)


def module_dirs() -> dict[str, Path]:
    """Source dirs of serving, eventing and the networking/caching versions serving requires."""
    dirs = {SERVING: module_dir(SERVING, VERSION), EVENTING: module_dir(EVENTING, VERSION)}
    for dep in (NETWORKING, CACHING):
        dirs[dep] = module_dir(dep, required_version(dirs[SERVING] / "go.mod", dep))
    return dirs


def _walk(root: Path, rel: str, recursive: bool, links: dict[str, tuple[str, str]]) -> Iterator[str]:
    """Relative paths of the YAML files ``ko resolve -f`` reads, in its (lexical) order, symlinks included."""
    here = root / rel
    if rel.endswith(".yaml"):
        yield rel
        return
    names = {p.name for p in here.iterdir()} | {Path(link).name for link in links if Path(link).parent == Path(rel)}
    for name in sorted(names):
        child = f"{rel}/{name}"
        if (here / name).is_dir():
            if recursive:
                yield from _walk(root, child, recursive, links)
        elif name.endswith((".yaml", ".yml")):
            yield child


def _read(dirs: dict[str, Path], module: str, rel: str) -> str:
    target_module, target = LINKED[module].get(rel, (module, rel))
    return (dirs[target_module] / target).read_text()


def load(dirs: dict[str, Path], release: str) -> list[Doc]:
    """The documents of one release file, unpatched."""
    module, folders = RELEASE[release]
    docs: list[Doc] = []
    for folder, recursive in folders:
        for rel in _walk(dirs[module], folder, recursive, LINKED[module]):
            docs.extend(d for d in yaml.load_all(_read(dirs, module, rel), Loader=yaml.CSafeLoader) if d)
    return docs


def _resolve(value: Any) -> Any:
    """Replace every ``ko://`` reference inside a document (what ``ko resolve`` does)."""
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    if isinstance(value, str) and value.startswith("ko://"):
        return image(COMPONENTS[value.removeprefix("ko://")])
    return value


def _containers(doc: Doc) -> list[Doc]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("containers", []), *spec.get("initContainers", [])]


def _set_data(doc: Doc, data: dict[str, str]) -> None:
    doc.setdefault("data", {}).update(data)


# ConfigMap (namespace, name) -> keys the test bed sets; every other key keeps Knative's default.
CONFIG: dict[tuple[str, str], dict[str, str]] = {
    # No registry: images are imported into containerd, and Knative must not try to resolve their digests.
    ("knative-serving", "config-deployment"): {
        "registries-skipping-tag-resolving": "hermes.local",
        "queue-sidecar-image": image("serving-queue"),
    },
    # The test bed's own KIngress (tests/cluster/ingress) reconciles this class.
    ("knative-serving", "config-network"): {"ingress-class": INGRESS_CLASS},
    # Routes are <name>.<namespace>.hermes.test, reached through 127.0.0.1:18080 with a Host header.
    ("knative-serving", "config-domain"): {DOMAIN: ""},
    # The full-load Triggers set a delivery timeout, which Knative refuses unless this is on (stock: on).
    ("knative-eventing", "config-features"): {"delivery-timeout": "enabled"},
    # Brokers without a class annotation are MT channel-based over InMemoryChannel (stock, said explicitly).
    ("knative-eventing", "config-br-defaults"): {
        "default-br-config": (
            "clusterDefault:\n  brokerClass: MTChannelBasedBroker\n  apiVersion: v1\n  kind: ConfigMap\n"
            "  name: config-br-default-channel\n  namespace: knative-eventing\n  delivery:\n    retry: 10\n"
            "    backoffPolicy: exponential\n    backoffDelay: PT0.2S\n"
        )
    },
    ("knative-eventing", "config-br-default-channel"): {
        "channel-template-spec": "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\n"
    },
}


def patch(docs: list[Doc]) -> list[Doc]:
    """Resolve images and apply the test bed's settings (:data:`CONFIG`, pull policy, CPU requests)."""
    out: list[Doc] = []
    for raw in docs:
        kind, meta = raw.get("kind"), raw.get("metadata", {})
        if kind in {"Deployment", "StatefulSet"} and meta.get("name") in UNUSED_WORKLOADS:
            continue
        doc = _resolve(raw)
        if kind == "ConfigMap" and (meta.get("namespace"), meta.get("name")) in CONFIG:
            _set_data(doc, CONFIG[(meta["namespace"], meta["name"])])
        for container in _containers(doc):
            container["imagePullPolicy"] = "IfNotPresent"
            requests = container.get("resources", {}).get("requests", {})
            if "cpu" in requests:
                requests["cpu"] = CPU_REQUEST
        out.append(doc)
    return out


def assemble(out_dir: Path, dirs: dict[str, Path] | None = None) -> list[Path]:
    """Write every release file of :data:`RELEASE` into ``out_dir``; return their paths."""
    dirs = dirs or module_dirs()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for release in RELEASE:
        docs = patch(load(dirs, release))
        path = out_dir / release
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump_all(docs, sort_keys=False, width=1000))
        tmp.replace(path)
        written.append(path)
    return written


def images_used(paths: list[Path]) -> set[str]:
    """Every hermes.local image the written manifests run (containers, not env values)."""
    found: set[str] = set()
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            found.update(c["image"] for c in _containers(doc or {}) if c["image"].startswith(REGISTRY))
    return found
