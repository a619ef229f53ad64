"""The cluster's certificates, keys and kubeconfigs, made once with the openssl CLI.

One CA signs everything (apiserver serving, kubelet serving, every client); the service-account key pair
signs tokens. Identities follow Kubernetes' conventions (kubernetes/website : docs/setup/best-practices/
certificates.md): the Node authorizer knows the kubelet by `system:node:<node>` in group `system:nodes`,
RBAC's bootstrap roles bind `system:kube-controller-manager`, `system:kube-scheduler` and
`system:kube-proxy`, and `system:masters` is the superuser group. Kubeconfigs are JSON (valid YAML), so the
standard library writes them. Nothing is regenerated while it exists; `down --purge` removes it all.
"""

from __future__ import annotations

import base64
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scripts.cluster import layout
from scripts.cluster.proc import run

DAYS = "3650"
SERVER_SANS = (
    f"IP:{layout.NODE_IP}",
    f"IP:{layout.KUBERNETES_SERVICE_IP}",
    "IP:127.0.0.1",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    f"DNS:kubernetes.default.svc.{layout.CLUSTER_DOMAIN}",
    "DNS:localhost",
)


@dataclass(frozen=True)
class Cert:
    """One leaf certificate: file stem, subject, server or client use, SANs."""

    name: str
    cn: str
    org: str = ""
    server: bool = False
    sans: tuple[str, ...] = ()
    ca: str = "ca"


CERTS = (
    Cert("apiserver", "kube-apiserver", server=True, sans=SERVER_SANS),
    Cert("apiserver-kubelet-client", "kube-apiserver-kubelet-client", org="system:masters"),
    Cert("admin", "admin", org="system:masters"),
    Cert("controller-manager", "system:kube-controller-manager"),
    Cert("scheduler", "system:kube-scheduler"),
    Cert("kubelet", f"system:node:{layout.NODE_NAME}", org="system:nodes"),
    Cert("kubelet-serving", layout.NODE_NAME, server=True, sans=(f"IP:{layout.NODE_IP}", f"DNS:{layout.NODE_NAME}")),
    Cert("kube-proxy", "system:kube-proxy"),
    # The aggregation layer's client (kubeadm's front-proxy pair): the apiserver proxies to extension
    # apiservers with it, and components read its CA from extension-apiserver-authentication.
    Cert("front-proxy-client", "front-proxy-client", ca="front-proxy-ca"),
)
CAS = {"ca": "hermes-cluster-ca", "front-proxy-ca": "hermes-cluster-front-proxy-ca"}
# The kubeconfigs for the apiserver's address inside, each carrying the client certificate of its own name.
KUBECONFIGS = ("admin", "controller-manager", "scheduler", "kubelet", "kube-proxy")


def path(name: str, ext: str) -> Path:
    return layout.PKI / f"{name}.{ext}"


def _key(out: Path, *, rsa: bool = False) -> None:
    algorithm = (
        ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        if rsa
        else ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    )
    run(["openssl", "genpkey", *algorithm, "-out", str(out)])
    out.chmod(0o600)


def _subject(cert: Cert) -> str:
    return (f"/O={cert.org}" if cert.org else "") + f"/CN={cert.cn}"


def make_ca(name: str, cn: str) -> None:
    if path(name, "crt").exists():
        return
    _key(path(name, "key"))
    run(
        [
            "openssl",
            "req",
            "-x509",
            "-new",
            "-key",
            str(path(name, "key")),
            "-subj",
            f"/CN={cn}",
            "-days",
            DAYS,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            "-out",
            str(path(name, "crt")),
        ]
    )


def make_leaf(cert: Cert) -> None:
    crt = path(cert.name, "crt")
    if crt.exists():
        return
    key, usage = path(cert.name, "key"), "serverAuth" if cert.server else "clientAuth"
    _key(key)
    ext = [
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={usage}",
        "basicConstraints=critical,CA:FALSE",
    ]
    if cert.sans:
        ext.append("subjectAltName=" + ",".join(cert.sans))
    with tempfile.TemporaryDirectory() as tmp:
        csr, extfile = Path(tmp) / "csr", Path(tmp) / "ext"
        extfile.write_text("\n".join(ext) + "\n")
        run(["openssl", "req", "-new", "-key", str(key), "-subj", _subject(cert), "-out", str(csr)])
        run(
            [
                "openssl",
                "x509",
                "-req",
                "-in",
                str(csr),
                "-CA",
                str(path(cert.ca, "crt")),
                "-CAkey",
                str(path(cert.ca, "key")),
                "-set_serial",
                str(int.from_bytes(_random(16), "big")),
                "-days",
                DAYS,
                "-extfile",
                str(extfile),
                "-out",
                str(crt),
            ]
        )


def _random(n: int) -> bytes:
    with Path("/dev/urandom").open("rb") as src:
        return src.read(n)


def make_service_account_keys() -> None:
    if path("sa", "pub").exists():
        return
    _key(path("sa", "key"), rsa=True)
    run(["openssl", "pkey", "-in", str(path("sa", "key")), "-pubout", "-out", str(path("sa", "pub"))])


def kubeconfig(user: str, cert: str, server: str) -> str:
    """A kubeconfig (JSON) for `user` with client certificate `cert`, trusting our CA."""

    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "hermes", "cluster": {"server": server, "certificate-authority-data": b64(path("ca", "crt"))}}
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": b64(path(cert, "crt")), "client-key-data": b64(path(cert, "key"))},
            }
        ],
        "contexts": [{"name": "hermes", "context": {"cluster": "hermes", "user": user}}],
        "current-context": "hermes",
    }
    return json.dumps(doc, indent=2) + "\n"


def inside_url() -> str:
    return f"https://{layout.NODE_IP}:{layout.APISERVER_PORT}"


def kubeconfig_path(name: str) -> Path:
    return layout.STATE / f"{name}.kubeconfig"


def make_all() -> None:
    """CA, leaves, service-account keys, and every kubeconfig (admin inside, host through the forward)."""
    layout.PKI.mkdir(parents=True, exist_ok=True)
    layout.PKI.chmod(0o700)
    for name, cn in CAS.items():
        make_ca(name, cn)
    for cert in CERTS:
        make_leaf(cert)
    make_service_account_keys()
    for name in KUBECONFIGS:
        _write_private(kubeconfig_path(name), kubeconfig(name, name, inside_url()))
    host = f"https://127.0.0.1:{layout.HOST_APISERVER_PORT}"
    _write_private(layout.HOST_KUBECONFIG, kubeconfig("admin", "admin", host))


def _write_private(target: Path, text: str) -> None:
    target.write_text(text)
    target.chmod(0o600)
