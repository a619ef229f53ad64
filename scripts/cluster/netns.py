"""The namespace holder: one long-lived process owning the cluster's network and mount namespaces.

`unshare --net --mount --propagation private sleep infinity` execs `sleep` in place, so its PID (in
/run/hermes-cluster/ns.pid) names both namespaces for `nsenter`. Inside them:

- loopback up, the node IP 10.201.0.1 on `hermes0` (a veth whose peer stays inside: the kernel has no
  dummy driver), a route for the service range so processes of the node reach ClusterIPs through
  kube-proxy's OUTPUT rules, and no default route (nothing leaves the namespace by IP);
- private mounts over the host paths the runtime writes to regardless of its configuration: a tmpfs on
  /run/containerd (shim sockets), and binds of our own folders over /var/log (the kubelet's /var/log/pods)
  and /var/lib/cni (libcni's result cache). They vanish with the namespace.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

from scripts.cluster import layout
from scripts.cluster.proc import alive, holder_pid, run, run_inside

# Host path -> our folder bound over it inside the mount namespace (None: a fresh tmpfs).
PRIVATE_MOUNTS: dict[str, Path | None] = {
    "/run/containerd": None,
    "/var/log": layout.STATE / "var-log",
    "/var/lib/cni": layout.STATE / "var-lib-cni",
}
# Per-network-namespace settings: routing for the pod bridge, and bridged pod-to-pod replies through
# iptables so a Service's DNAT is undone on the way back (br_netfilter is built in and per namespace).
CREATED_DIRS = layout.RUN / "created-dirs"
NETNS_SYSCTLS = {"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"}


def save_host_sysctls() -> None:
    """Record the host-wide sysctls the kubelet changes, once: a second `up` must not save its own values."""
    if layout.SYSCTL_SAVED.exists():
        return
    present = [key for key in layout.HOST_SYSCTLS if _sysctl_path(key).exists()]  # kernel.keys.* may be absent
    lines = [f"{key}={_sysctl_path(key).read_text().strip()}\n" for key in present]
    layout.SYSCTL_SAVED.write_text("".join(lines))


def restore_host_sysctls() -> list[str]:
    """Write the saved values back; returns the `key=value` lines restored."""
    if not layout.SYSCTL_SAVED.exists():
        return []
    restored = []
    for line in layout.SYSCTL_SAVED.read_text().splitlines():
        key, _, value = line.partition("=")
        _sysctl_path(key).write_text(value)
        restored.append(line)
    return restored


def _sysctl_path(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def start_holder() -> int:
    """Create the namespaces and return the holder's PID."""
    layout.LOGS.mkdir(parents=True, exist_ok=True)
    with (layout.LOGS / "holder.log").open("ab") as out:
        proc = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private", "--", "sleep", "infinity"],  # noqa: S607
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    own_net = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + 10
    while _net_ns(proc.pid) in {own_net, None}:
        if not alive(proc.pid) or time.monotonic() > deadline:
            msg = "unshare did not create the namespaces (see logs/holder.log)"
            raise RuntimeError(msg)
        time.sleep(0.02)
    layout.HOLDER_PID.write_text(f"{proc.pid}\n")
    return proc.pid


def _net_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def configure() -> None:
    """Interfaces, routes, sysctls and private mounts inside the namespaces."""
    for command in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "link", "add", layout.NODE_LINK, "type", "veth", "peer", "name", layout.NODE_LINK_PEER],
        ["ip", "addr", "add", f"{layout.NODE_IP}/32", "dev", layout.NODE_LINK],
        ["ip", "link", "set", layout.NODE_LINK_PEER, "up"],
        ["ip", "link", "set", layout.NODE_LINK, "up"],
        ["ip", "route", "add", layout.SERVICE_CIDR, "dev", layout.NODE_LINK, "src", layout.NODE_IP],
    ):
        run_inside(command)
    for key, value in NETNS_SYSCTLS.items():
        run_inside(["sysctl", "-q", "-w", f"{key}={value}"])
    for target, source in PRIVATE_MOUNTS.items():
        _private_mount(target, source)


def _private_mount(target: str, source: Path | None) -> None:
    # The mount point must exist on the host: an empty folder we create is recorded and removed by `down`.
    if not Path(target).exists():
        Path(target).mkdir(parents=True)
        with CREATED_DIRS.open("a") as out:
            out.write(f"{target}\n")
    if source is None:
        run_inside(["mount", "-t", "tmpfs", "-o", "mode=0711", "hermes-cluster", target])
        return
    source.mkdir(parents=True, exist_ok=True)
    run_inside(["mount", "--bind", str(source), target])


def remove_created_mount_points() -> None:
    """Remove the host folders `configure` created as mount points (if still empty)."""
    if not CREATED_DIRS.exists():
        return
    for line in reversed(CREATED_DIRS.read_text().splitlines()):
        with contextlib.suppress(OSError):
            Path(line).rmdir()


def holder_alive() -> bool:
    return holder_pid() is not None


def host_sysctl(key: str) -> str:
    return run(["sysctl", "-n", key]).strip()


def _mount_points(mountinfo: Path) -> list[str]:
    """Mount points under our folders and the private-mount targets, in mount order."""
    prefixes = (str(layout.STATE), str(layout.RUN), *PRIVATE_MOUNTS)
    points = []
    for line in _read_lines(mountinfo):
        point = line.split()[4].encode().decode("unicode_escape")  # mountinfo escapes spaces as \\040
        if any(point == p or point.startswith(p + "/") for p in prefixes):
            points.append(point)
    return points


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def unmount_all(holder: int) -> int:
    """Unmount, inside the namespace, every mount under our folders (deepest last-made first); returns how many."""
    points = _mount_points(Path(f"/proc/{holder}/mountinfo"))
    if points:
        # Lazy: a busy mount is detached now and freed when its last user is gone (the processes are already).
        run_inside(["umount", "--lazy", *reversed(points)], check=False)
    return len(points)


def host_mounts() -> list[str]:
    """Our mounts as the host sees them: must be none (the namespace's propagation is private)."""
    return _mount_points(Path("/proc/self/mountinfo"))
