"""The node's own images, built locally and imported into containerd's `k8s.io` namespace.

- hermes.local/pause:3.10 — pause.c, `gcc -static`: the pod sandbox (containerd's `sandbox_image`);
- hermes.local/coredns:v1.15.0 — the coredns binary scripts/cluster/build.sh made;
- hermes.local/probe:1 — probe/ (Go, standard library only): an HTTP server and client and a resolver,
  what the smoke test runs in pods (no busybox or curl image exists without a registry).

Archives are written by scripts/cluster/oci.py (its CLI, `binary`) to $CACHE/cluster/images/ and rebuilt
only when a source is newer than the archive.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scripts.cluster import layout
from scripts.cluster.proc import run, run_inside

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SNAPSHOTTER_FILE = layout.RUN / "snapshotter"


@dataclass(frozen=True)
class Image:
    """One image: archive stem, repository and tag under hermes.local/, path in the image, user."""

    stem: str
    name: str
    tag: str
    at: str
    user: str


PAUSE = Image("pause", "pause", "3.10", "/pause", "65535")
# CoreDNS binds port 53: root in the image, every capability but NET_BIND_SERVICE dropped by the Deployment.
COREDNS = Image("coredns", "coredns", "v1.15.0", "/coredns", "0")
PROBE = Image("probe", "probe", "1", "/probe", "65532")


def archive(image: Image) -> Path:
    return layout.images_dir() / f"{image.stem}.oci.tar"


def _stale(target: Path, sources: list[Path]) -> bool:
    return not target.exists() or any(s.stat().st_mtime > target.stat().st_mtime for s in sources)


def _pack(image: Image, binary: Path) -> None:
    run(
        [
            sys.executable,
            "-m",
            "scripts.cluster.oci",
            "binary",
            "--name",
            image.name,
            "--tag",
            image.tag,
            "--file",
            f"{binary}:{image.at}",
            "--user",
            image.user,
            "--entrypoint",
            image.at,
            "--out",
            str(archive(image)),
        ],
        cwd=REPO,
    )


def build_pause() -> None:
    source = HERE / "pause.c"
    if not _stale(archive(PAUSE), [source]):
        return
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "pause"
        run(["gcc", "-static", "-Os", "-s", "-Wall", "-Wextra", "-o", str(binary), str(source)])
        _pack(PAUSE, binary)


def build_probe() -> None:
    sources = sorted((HERE / "probe").iterdir())
    if not _stale(archive(PROBE), sources):
        return
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "probe"
        run(
            ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(binary), "."],
            cwd=HERE / "probe",
            env={"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOWORK": "off"},
        )
        _pack(PROBE, binary)


def build_coredns() -> None:
    binary = Path(layout.binary("coredns"))
    if _stale(archive(COREDNS), [binary]):
        _pack(COREDNS, binary)


def build_all() -> None:
    build_pause()
    build_probe()
    build_coredns()


def ctr(*args: str) -> list[str]:
    """The argv of `ctr ARGS` against the node's containerd, in the `k8s.io` namespace the kubelet's images live
    in (run it inside the cluster's namespaces)."""
    return ["ctr", "--address", str(layout.CONTAINERD_SOCK), "-n", "k8s.io", *args]


def import_archives(paths: list[Path]) -> None:
    """Import OCI archives into containerd's `k8s.io` namespace, unpacked for the node's snapshotter."""
    snapshotter = snapshotter_in_use()
    for path in paths:
        run_inside(ctr("images", "import", "--snapshotter", snapshotter, str(path)))


def own_archives() -> list[Path]:
    return [archive(image) for image in (PAUSE, COREDNS, PROBE)]


def snapshotter_in_use() -> str:
    """The snapshotter `up` chose (overlayfs, or native when overlay mounts fail in the namespace)."""
    return SNAPSHOTTER_FILE.read_text().strip()
