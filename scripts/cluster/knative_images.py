"""Knative's images for the test cluster, made the way ko makes them, from the binaries in $CACHE/cluster/bin.

ko (google/ko pkg/build/gobuild.go) puts a Go binary at /ko-app/<last element of its import path>, makes it
the entrypoint, appends /ko-app to PATH and sets KO_DATA_PATH=/var/run/ko, over a static base whose user is
65532 (nonroot). The base here is one shared layer with what ko's default base (chainguard static) brings
and Knative needs: CA certificates and the time zone database (PingSource and its webhook call
time.LoadLocation on a schedule's timezone, and Knative's binaries do not embed time/tzdata).

Images are written with scripts/cluster/oci.py into $CACHE/cluster/images/knative-<component>.oci.tar and
imported with ``python -m scripts.cluster.node import`` (ctr, for the node's snapshotter). An archive is
rewritten only when its binary's version stamp changes (the stamp is copied beside the archive).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.cluster import oci
from scripts.cluster.knative_manifests import COMPONENTS, EVENTING, REGISTRY, VERSION
from scripts.cluster.layout import bin_dir, images_dir
from scripts.local_es import cache_dir

ROOT = Path(__file__).resolve().parents[2]
NONROOT = "65532"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
ZONEINFO = Path("/usr/share/zoneinfo")
# Components whose Deployments run (the env-only adapters are never started here).
RUN = [c for c in COMPONENTS.values() if c not in {"eventing-apiserver-receive-adapter", "eventing-auth-proxy"}]
# Built here when the shared build (scripts/cluster/build.sh) does not make them: the MT broker's controller
# reconciles every Broker of class MTChannelBasedBroker; without it no Broker becomes Ready.
EXTRA = {"eventing-mt-broker-controller": f"{EVENTING}/cmd/mtchannel_broker"}


def _import_path(component: str) -> str:
    return next(path for path, name in COMPONENTS.items() if name == component)


def build_extra(component: str) -> Path:
    """Build one Knative binary the shared build does not make (a scratch module, as build.sh does)."""
    out = bin_dir() / f"knative-{component}"
    stamp = out.with_name(f".{out.name}.version")
    want = f"{EVENTING}@{VERSION}"
    if out.is_file() and stamp.is_file() and stamp.read_text().strip() == want:
        return out
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOWORK": "off"}
    env["GOCACHE"] = str(cache_dir() / "cluster" / "go-build")
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "go.mod").write_text("module hermes.local/cluster/knative\n")
        subprocess.run(["go", "get", want], cwd=work, env=env, check=True)  # noqa: S603, S607
        cmd = ["nice", "-n", "10", "go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(out), EXTRA[component]]
        subprocess.run(cmd, cwd=work, env=env, check=True)  # noqa: S603
    stamp.write_text(want + "\n")
    return out


def base_layer(work: Path) -> oci.Layer:
    """The shared static base: CA bundle and zoneinfo, owned by root."""
    entries: list[oci.Entry] = [
        oci.File(CA_BUNDLE, str(CA_BUNDLE), mode=0o644),
        oci.Tree(ZONEINFO, str(ZONEINFO)),
        oci.Dir("/tmp", 0o1777),  # noqa: S108 -- a path in the image
    ]
    return oci.write_layer(entries, work / "base.tar.gz")


def archive(component: str) -> Path:
    """The OCI archive path of one component."""
    return images_dir() / f"knative-{component}.oci.tar"


def build(component: str, base: oci.Layer, work: Path) -> Path:
    """Write the component's archive unless it is current with its binary's stamp."""
    binary = bin_dir() / f"knative-{component}"
    if not binary.is_file():
        msg = f"{binary} is missing: run scripts/cluster/build.sh first"
        raise FileNotFoundError(msg)
    stamp = binary.with_name(f".{binary.name}.version")
    want = stamp.read_text() if stamp.is_file() else ""
    out = archive(component)
    done = out.with_name(f".{out.name}.version")
    if out.is_file() and done.is_file() and done.read_text() == want:
        return out
    app = _import_path(component).rsplit("/", 1)[-1]
    entries: list[oci.Entry] = [oci.File(binary, f"/ko-app/{app}", mode=0o755), oci.Dir(oci.KO_ENV["KO_DATA_PATH"])]
    layer = oci.write_layer(entries, work / f"{component}.tar.gz")
    env = {**oci.KO_ENV, "SSL_CERT_FILE": str(CA_BUNDLE)}
    config = oci.Config(user=NONROOT, entrypoint=[f"/ko-app/{app}"], env=env)
    oci.write_image(out, f"{REGISTRY.removeprefix('hermes.local/')}/{component}", VERSION, [base, layer], config)
    done.write_text(want)
    return out


def build_all() -> list[Path]:
    """Archives for every component the manifests run (building the extra binaries first)."""
    for component in EXTRA:
        build_extra(component)
    images_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=images_dir()) as tmp:
        base = base_layer(Path(tmp))
        return [build(component, base, Path(tmp)) for component in RUN]


def import_all(archives: list[Path]) -> None:
    """Import archives into containerd's k8s.io namespace on the node, unpacked for the snapshotter the node
    chose (the node's own CLI: ``python -m scripts.cluster.node import``, branch cluster-node)."""
    cmd = [sys.executable, "-m", "scripts.cluster.node", "import", *map(str, archives)]
    subprocess.run(cmd, cwd=ROOT, check=True)  # noqa: S603


HELLO = "hello"
HELLO_TAG = "1"


def hello_image() -> Path:
    """The smoke workload (tests/cluster/hello), built static and packed like the Knative images."""
    out = images_dir() / f"{HELLO}.oci.tar"
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOWORK": "off"}
    images_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=images_dir()) as tmp:
        work = Path(tmp)
        (work / "go.mod").write_text("module hermes.local/cluster/hello\n\ngo 1.22\n")
        (work / "main.go").write_bytes((ROOT / "tests" / "cluster" / "hello" / "main.go").read_bytes())
        cmd = ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(work / HELLO), "."]
        subprocess.run(cmd, cwd=work, env=env, check=True)  # noqa: S603
        layer = oci.write_layer([oci.File(work / HELLO, f"/ko-app/{HELLO}", mode=0o755)], work / "layer.tar.gz")
        config = oci.Config(user=NONROOT, entrypoint=[f"/ko-app/{HELLO}"], env=oci.KO_ENV)
        oci.write_image(out, HELLO, HELLO_TAG, [layer], config)
    return out
