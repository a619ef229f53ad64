"""Where the test cluster keeps its files and which addresses it uses (the shared cluster plan's names).

One place for every path and address, so `up`, `down`, `enter` and the other engineers' tooling agree.
"""

from __future__ import annotations

from pathlib import Path

from scripts.local_es import cache_dir  # the cache outside the repo, as scripts/tools.sh computes it

K8S_VERSION = "v1.35.4"
NODE_NAME = "hermes-node"
NODE_IP = "10.201.0.1"
POD_CIDR = "10.88.0.0/16"
POD_GATEWAY = "10.88.0.1"
SERVICE_CIDR = "10.96.0.0/12"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
APISERVER_PORT = 6443
HOST_APISERVER_PORT = 16443
PAUSE_IMAGE = "hermes.local/pause:3.10"
COREDNS_IMAGE = "hermes.local/coredns:v1.15.0"
PROBE_IMAGE = "hermes.local/probe:1"
# The node's interface inside the network namespace. The kernel has no `dummy` driver (CONFIG_DUMMY off), so
# the node IP sits on one end of a veth pair whose other end stays in the same namespace: an ordinary,
# carrier-up interface that nothing outside the namespace can see.
NODE_LINK = "hermes0"
NODE_LINK_PEER = "hermes0-peer"

STATE = Path("/var/lib/hermes-cluster")
RUN = Path("/run/hermes-cluster")
LOGS = STATE / "logs"
PKI = STATE / "pki"
ETCD_DATA = STATE / "etcd"
CONTAINERD_ROOT = STATE / "containerd"
KUBELET_ROOT = STATE / "kubelet"
CNI_CONF = STATE / "cni"
CNI_BIN = Path("/usr/lib/cni")
ADMIN_KUBECONFIG = STATE / "admin.kubeconfig"
HOST_KUBECONFIG = STATE / "host.kubeconfig"
HOLDER_PID = RUN / "ns.pid"
SYSCTL_SAVED = RUN / "sysctl.saved"
CONTAINERD_SOCK = RUN / "containerd" / "containerd.sock"
# The host-wide sysctls the kubelet sets (protectKernelDefaults false): saved before `up`, restored by `down`.
# kubernetes v1.35.4 pkg/kubelet/cm/container_manager_linux.go (setupKernelTunables) sets these six.
HOST_SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
)
# The kubelet's cgroupRoot: every pod's cgroup lives under /sys/fs/cgroup/<controller>/hermes-cluster, a name
# no other kubelet uses, so `down` kills and removes only what this cluster made.
CGROUP_PARENT = "hermes-cluster"


def bin_dir() -> Path:
    """Where scripts/cluster/build.sh puts the Kubernetes, etcd, CoreDNS and Knative binaries."""
    return cache_dir() / "cluster" / "bin"


def images_dir() -> Path:
    """OCI image archives ready for `ctr -n k8s.io images import`."""
    return cache_dir() / "cluster" / "images"


def binary(name: str) -> str:
    """The path of one cluster binary (it must exist: `build.sh` makes it)."""
    path = bin_dir() / name
    if not path.is_file():
        msg = f"{path} is missing: run scripts/cluster/build.sh first"
        raise FileNotFoundError(msg)
    return str(path)
