"""The cluster's daemons: their command lines, in start order, each run inside the namespaces.

etcd and the control plane listen inside the network namespace only (etcd on loopback, plain HTTP: nothing
else shares the namespace); the apiserver serves 10.201.0.1:6443, which the host reaches through the
127.0.0.1:16443 forward. Flags follow kubeadm's defaults for a single control-plane node
(kubernetes/kubernetes : cmd/kubeadm/app/phases/controlplane/manifests.go), minus what needs a cloud or a
front proxy.
"""

from __future__ import annotations

from dataclasses import dataclass

from scripts.cluster import configs, layout, pki
from scripts.cluster.layout import binary

ETCD_URL = "http://127.0.0.1:2379"
SA_ISSUER = f"https://kubernetes.default.svc.{layout.CLUSTER_DOMAIN}"


@dataclass(frozen=True)
class Daemon:
    """One long-running process: its name (log and PID file) and command line."""

    name: str
    argv: list[str]


def _crt(name: str) -> str:
    return str(pki.path(name, "crt"))


def _key(name: str) -> str:
    return str(pki.path(name, "key"))


def _kubeconfig(name: str) -> str:
    return str(pki.kubeconfig_path(name))


def etcd() -> Daemon:
    # --unsafe-no-fsync: the data is disposable (`down --purge`) and the disk is shared by several engineers;
    # fsync on every write would put their I/O into our apiserver's latency.
    return Daemon(
        "etcd",
        [
            binary("etcd"),
            "--name",
            "hermes",
            "--data-dir",
            str(layout.ETCD_DATA),
            "--listen-client-urls",
            ETCD_URL,
            "--advertise-client-urls",
            ETCD_URL,
            "--listen-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-cluster",
            "hermes=http://127.0.0.1:2380",
            "--listen-metrics-urls",
            "http://127.0.0.1:2381",
            "--unsafe-no-fsync",
            "--auto-compaction-mode",
            "periodic",
            "--auto-compaction-retention",
            "1h",
            "--log-level",
            "warn",
        ],
    )


def apiserver() -> Daemon:
    return Daemon(
        "kube-apiserver",
        [
            binary("kube-apiserver"),
            f"--advertise-address={layout.NODE_IP}",
            f"--secure-port={layout.APISERVER_PORT}",
            f"--etcd-servers={ETCD_URL}",
            "--authorization-mode=Node,RBAC",
            # The default admission chain (MutatingAdmissionWebhook, ValidatingAdmissionWebhook,
            # ValidatingAdmissionPolicy, ServiceAccount, ... which Knative's webhooks rely on) plus NodeRestriction.
            "--enable-admission-plugins=NodeRestriction",
            f"--client-ca-file={_crt('ca')}",
            f"--tls-cert-file={_crt('apiserver')}",
            f"--tls-private-key-file={_key('apiserver')}",
            f"--kubelet-client-certificate={_crt('apiserver-kubelet-client')}",
            f"--kubelet-client-key={_key('apiserver-kubelet-client')}",
            f"--kubelet-certificate-authority={_crt('ca')}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
            f"--service-account-issuer={SA_ISSUER}",
            f"--service-account-key-file={pki.path('sa', 'pub')}",
            f"--service-account-signing-key-file={_key('sa')}",
            f"--requestheader-client-ca-file={_crt('front-proxy-ca')}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={_crt('front-proxy-client')}",
            f"--proxy-client-key-file={_key('front-proxy-client')}",
            "--allow-privileged=true",
            "--profiling=false",
        ],
    )


def _control_plane(name: str, client: str, *flags: str) -> Daemon:
    """The controller-manager or the scheduler: the kubeconfig of its `client` certificate for the apiserver,
    authentication and authorization alike, its secure port on loopback, no leader election (one node)."""
    kubeconfig = _kubeconfig(client)
    return Daemon(
        name,
        [
            binary(name),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            *flags,
            "--leader-elect=false",
            "--profiling=false",
        ],
    )


def controller_manager() -> Daemon:
    return _control_plane(
        "kube-controller-manager",
        "controller-manager",
        f"--root-ca-file={_crt('ca')}",
        f"--service-account-private-key-file={_key('sa')}",
        "--use-service-account-credentials=true",
        f"--cluster-signing-cert-file={_crt('ca')}",
        f"--cluster-signing-key-file={_key('ca')}",
        "--allocate-node-cidrs=false",
        f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
        "--cluster-name=hermes",
    )


def scheduler() -> Daemon:
    return _control_plane("kube-scheduler", "scheduler")


def containerd() -> Daemon:
    return Daemon("containerd", ["containerd", "--config", str(configs.CONTAINERD_CONFIG)])


def kubelet() -> Daemon:
    return Daemon(
        "kubelet",
        [
            binary("kubelet"),
            f"--config={configs.KUBELET_CONFIG}",
            f"--kubeconfig={_kubeconfig('kubelet')}",
            f"--root-dir={layout.KUBELET_ROOT}",
            f"--hostname-override={layout.NODE_NAME}",
            f"--node-ip={layout.NODE_IP}",
        ],
    )


def kube_proxy() -> Daemon:
    return Daemon("kube-proxy", [binary("kube-proxy"), f"--config={configs.KUBE_PROXY_CONFIG}"])


# Every daemon `up` may start, in the reverse of the order `down` stops them.
NAMES = ("etcd", "containerd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")
