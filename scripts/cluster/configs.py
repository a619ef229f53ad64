"""Configuration files of containerd, the CNI bridge, the kubelet and kube-proxy (JSON where accepted).

Choices forced by this machine (the shared cluster plan's probe): cgroup v1 with the cgroupfs driver
(`failCgroupV1: false`), no CAP_SYS_RESOURCE (containerd's CRI `restrict_oom_score_adj`), runc (crun
fails), and a CNI bridge that needs `isDefaultGateway` and `hairpinMode`. Everything the runtime keeps is
under /var/lib/hermes-cluster and /run/hermes-cluster, including the pod network namespaces
(`netns_mounts_under_state_dir`) and host-local's IP leases (`dataDir`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripts.cluster import layout, pki

CONTAINERD_CONFIG = layout.STATE / "containerd.toml"
KUBELET_CONFIG = layout.STATE / "kubelet.json"
KUBE_PROXY_CONFIG = layout.STATE / "kube-proxy.json"
CNI_CONFLIST = layout.CNI_CONF / "10-hermes-bridge.conflist"

# containerd 1.6 config version 2 (containerd/containerd v1.6.20 : docs/cri/config.md). The snapshotter is
# filled in: overlayfs, or native where overlay mounts fail in the mount namespace.
_CONTAINERD_TOML = """\
version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  max_container_log_line_size = 16384

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "{snapshotter}"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "{runc_root}"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "{cni_bin}"
  conf_dir = "{cni_conf}"
  max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri".image_decryption]
  key_model = ""
"""


def containerd_toml(snapshotter: str) -> str:
    return _CONTAINERD_TOML.format(
        root=layout.CONTAINERD_ROOT,
        state=layout.RUN / "containerd",
        sock=layout.CONTAINERD_SOCK,
        pause=layout.PAUSE_IMAGE,
        snapshotter=snapshotter,
        runc_root=layout.RUN / "runc",
        cni_bin=layout.CNI_BIN,
        cni_conf=layout.CNI_CONF,
    )


def cni_conflist() -> dict[str, Any]:
    """The pod network: bridge cni0 with host-local IPAM, portmap (hostPort) and loopback is implicit."""
    return {
        "cniVersion": "1.0.0",
        "name": "hermes-pods",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "isDefaultGateway": True,
                "hairpinMode": True,
                "ipMasq": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": layout.POD_CIDR, "gateway": layout.POD_GATEWAY}]],
                    "dataDir": str(layout.STATE / "cni-ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config() -> dict[str, Any]:
    """KubeletConfiguration (kubelet.config.k8s.io/v1beta1): tolerant of a shared disk, cgroup v1, swap."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{layout.CGROUP_PARENT}",
        "failSwapOn": False,
        "memorySwap": {"swapBehavior": "NoSwap"},
        "containerRuntimeEndpoint": f"unix://{layout.CONTAINERD_SOCK}",
        "clusterDNS": [layout.DNS_SERVICE_IP],
        "clusterDomain": layout.CLUSTER_DOMAIN,
        "resolvConf": str(layout.STATE / "resolv.conf"),
        "address": layout.NODE_IP,
        "healthzBindAddress": "127.0.0.1",
        "tlsCertFile": str(pki.path("kubelet-serving", "crt")),
        "tlsPrivateKeyFile": str(pki.path("kubelet-serving", "key")),
        "authentication": {
            "x509": {"clientCAFile": str(pki.path("ca", "crt"))},
            "webhook": {"enabled": True},
            "anonymous": {"enabled": False},
        },
        "authorization": {"mode": "Webhook"},
        # Several engineers share one disk: never evict or garbage-collect images because it fills up.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "evictionPressureTransitionPeriod": "30s",
        "serializeImagePulls": False,
        "maxPods": 250,
        "registerNode": True,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "localStorageCapacityIsolation": True,
        "protectKernelDefaults": False,
        "makeIPTablesUtilChains": True,
        "staticPodPath": "",
        # Lowering an oom_score_adj needs CAP_SYS_RESOURCE, which this machine does not give: stay at 0.
        "oomScoreAdj": 0,
    }


def kube_proxy_config() -> dict[str, Any]:
    """KubeProxyConfiguration: iptables mode; conntrack limits left alone (nf_conntrack_max is host-wide)."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clusterCIDR": layout.POD_CIDR,
        # NodePorts on the node IP only (10.201.0.1), not on loopback or the pod bridge's gateway.
        "nodePortAddresses": ["primary"],
        "hostnameOverride": layout.NODE_NAME,
        "bindAddress": layout.NODE_IP,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "clientConnection": {"kubeconfig": str(pki.kubeconfig_path("kube-proxy"))},
        "oomScoreAdj": 0,
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }


def write_json(target: Path, doc: dict[str, Any]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=2) + "\n")


def write_all(snapshotter: str) -> None:
    layout.CNI_CONF.mkdir(parents=True, exist_ok=True)
    CONTAINERD_CONFIG.write_text(containerd_toml(snapshotter))
    write_json(CNI_CONFLIST, cni_conflist())
    write_json(KUBELET_CONFIG, kubelet_config())
    write_json(KUBE_PROXY_CONFIG, kube_proxy_config())
    # Pods with dnsPolicy Default get no resolver: the namespace has no way out anyway.
    (layout.STATE / "resolv.conf").write_text("# the test cluster's network namespace has no upstream resolver\n")
