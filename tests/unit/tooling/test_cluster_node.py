"""The test cluster's node tooling, the parts that need no cluster: PKI, host-state cleaning, manifests.

The PKI is made by the real openssl CLI and checked by openssl itself (chain, SANs, subjects); the
kubeconfig and manifests are parsed as kubectl would read them (JSON).
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from scripts.cluster import addons, configs, containment, layout, netns, pki, proc


def _state_in(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "PKI", folder / "pki")
    monkeypatch.setattr(layout, "STATE", folder)
    monkeypatch.setattr(layout, "HOST_KUBECONFIG", folder / "host.kubeconfig")


@pytest.fixture(scope="module")
def made_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PKI, made once for the module (openssl's key generation is most of its time): its tests read it."""
    folder = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _state_in(folder, monkeypatch)
        pki.make_all()
    return folder


@pytest.fixture
def pki_dir(made_pki: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _state_in(made_pki, monkeypatch)
    return made_pki / "pki"


def _openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=True).stdout


def test_every_leaf_chains_to_the_cluster_ca(pki_dir: Path) -> None:
    for cert in pki.CERTS:
        out = _openssl("verify", "-CAfile", str(pki_dir / f"{cert.ca}.crt"), str(pki_dir / f"{cert.name}.crt"))
        assert out.strip().endswith(": OK")


def test_apiserver_certificate_names_every_address_clients_use(pki_dir: Path) -> None:
    text = _openssl("x509", "-in", str(pki_dir / "apiserver.crt"), "-noout", "-ext", "subjectAltName,extendedKeyUsage")
    for name in ("10.201.0.1", "10.96.0.1", "127.0.0.1", "DNS:kubernetes.default.svc.cluster.local"):
        assert name in text
    assert "TLS Web Server Authentication" in text


def test_kubelet_identity_is_what_the_node_authorizer_expects(pki_dir: Path) -> None:
    subject = _openssl("x509", "-in", str(pki_dir / "kubelet.crt"), "-noout", "-subject", "-nameopt", "RFC2253")
    assert subject.strip() == "subject=CN=system:node:hermes-node,O=system:nodes"


def test_making_the_pki_twice_keeps_it(pki_dir: Path) -> None:
    before = (pki_dir / "ca.crt").read_bytes()
    pki.make_all()
    assert (pki_dir / "ca.crt").read_bytes() == before


def test_host_kubeconfig_goes_through_the_loopback_forward(pki_dir: Path) -> None:
    doc = json.loads((pki_dir.parent / "host.kubeconfig").read_text())
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:16443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == (pki_dir / "ca.crt").read_bytes()


def test_host_state_ignores_counters_comments_and_lifetimes() -> None:
    one = "# Generated on Sun\n:INPUT ACCEPT [12:345]\n    valid_lft 100sec preferred_lft 100sec\n"
    two = "# Generated on Mon\n:INPUT ACCEPT [99:1]\n    valid_lft 90sec preferred_lft 90sec\n"
    assert containment._clean(one) == containment._clean(two)
    assert containment._clean(":INPUT DROP [0:0]\n") != containment._clean(":INPUT ACCEPT [0:0]\n")


def test_coredns_service_is_the_kubelets_cluster_dns() -> None:
    items = json.loads(addons.coredns())["items"]
    service = next(i for i in items if i["kind"] == "Service")
    assert service["spec"]["clusterIP"] == configs.kubelet_config()["clusterDNS"][0] == layout.DNS_SERVICE_IP


def test_containerd_config_keeps_the_runtime_under_our_folders() -> None:
    toml = configs.containerd_toml("overlayfs")
    assert "restrict_oom_score_adj = true" in toml
    assert "netns_mounts_under_state_dir = true" in toml
    assert f'sandbox_image = "{layout.PAUSE_IMAGE}"' in toml
    paths = [line.split('"')[1] for line in toml.splitlines() if line.strip().startswith(("root", "state", "address"))]
    assert paths
    assert all(p.startswith(("/var/lib/hermes-cluster", "/run/hermes-cluster")) for p in paths)


def test_a_daemon_that_exits_fails_the_wait_with_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "RUN", tmp_path / "run")
    monkeypatch.setattr(layout, "LOGS", tmp_path / "logs")
    layout.RUN.mkdir()
    pid = proc.spawn("crashy", ["sh", "-c", "echo etcd: bad flag; exit 3"], in_ns=False)
    proc.stop_pid(pid, grace=5)  # reaps it: the daemon is gone
    with pytest.raises(proc.DaemonExited, match="etcd: bad flag"):
        proc.ensure_running(["crashy"])


def test_down_unmounts_only_what_lives_under_our_folders(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 0:21 / /run rw shared:5 - tmpfs tmpfs rw\n"
        "90 22 0:50 / /run/containerd rw - tmpfs hermes-cluster rw\n"
        "91 1 254:0 /var/lib/hermes-cluster/var-log /var/log rw - ext4 /dev/vda rw\n"
        "92 1 254:0 /x /var/lib/hermes-cluster/kubelet/pods/a/volumes/my\\040vol rw - tmpfs tmpfs rw\n"
        "93 1 254:0 /x /var/lib/hermes-clusterX rw - ext4 /dev/vda rw\n"
    )
    assert netns._mount_points(mountinfo) == [
        "/run/containerd",
        "/var/log",
        "/var/lib/hermes-cluster/kubelet/pods/a/volumes/my vol",
    ]
