"""TCP forwards between the host's loopback and the cluster's network namespace, through unix sockets.

A forward is two socat processes joined by a unix socket in /run/hermes-cluster/fwd/, a folder both sides
see (the mount namespace shares the host's files, only mounts are private). So no host interface, route
or iptables rule is ever made:

    into the cluster (`inward`):   host 127.0.0.1:PORT  ->  fwd/NAME.sock  ->  TARGET inside (e.g. 10.201.0.1:6443)
    out of the cluster (`outward`): inside 10.201.0.1:PORT  ->  fwd/NAME.sock  ->  host 127.0.0.1:HOST_PORT

Pods reach an outward forward at 10.201.0.1:PORT (the node IP is local to the namespace, pods route to it
through cni0). The processes are daemons `fwd-NAME-in` and `fwd-NAME-out`, stopped by `down`.
"""

from __future__ import annotations

import socket

from scripts.cluster import layout
from scripts.cluster.proc import daemon_pid, spawn, stop, wait_for

FWD = layout.RUN / "fwd"


def _sock(name: str) -> str:
    return str(FWD / f"{name}.sock")


def _running(name: str) -> bool:
    return daemon_pid(f"fwd-{name}-in") is not None and daemon_pid(f"fwd-{name}-out") is not None


def inward(name: str, host_port: int, target: str) -> None:
    """Host 127.0.0.1:`host_port` -> `target` (host:port) inside the namespace."""
    if _running(name):
        return
    remove(name)
    FWD.mkdir(parents=True, exist_ok=True)
    sock = _sock(name)
    spawn(f"fwd-{name}-in", ["socat", f"UNIX-LISTEN:{sock},fork,unlink-early,mode=600", f"TCP:{target}"])
    wait_for(f"the {name} forward's socket", (FWD / f"{name}.sock").exists, timeout=10, interval=0.05)
    spawn(
        f"fwd-{name}-out",
        ["socat", f"TCP-LISTEN:{host_port},bind=127.0.0.1,reuseaddr,fork", f"UNIX-CONNECT:{sock}"],
        in_ns=False,
    )
    wait_for(f"127.0.0.1:{host_port}", lambda: _listening("127.0.0.1", host_port), timeout=10, interval=0.05)


def outward(name: str, port: int, host_port: int | None = None) -> None:
    """Inside 10.201.0.1:`port` -> the host's 127.0.0.1:`host_port` (default: the same port)."""
    if _running(name):
        return
    remove(name)
    FWD.mkdir(parents=True, exist_ok=True)
    sock = _sock(name)
    spawn(
        f"fwd-{name}-out",
        ["socat", f"UNIX-LISTEN:{sock},fork,unlink-early,mode=600", f"TCP:127.0.0.1:{host_port or port}"],
        in_ns=False,
    )
    wait_for(f"the {name} forward's socket", (FWD / f"{name}.sock").exists, timeout=10, interval=0.05)
    spawn(
        f"fwd-{name}-in", ["socat", f"TCP-LISTEN:{port},bind={layout.NODE_IP},reuseaddr,fork", f"UNIX-CONNECT:{sock}"]
    )


def remove(name: str) -> None:
    """Stop both ends of forward `name`."""
    stop(f"fwd-{name}-in", grace=2)
    stop(f"fwd-{name}-out", grace=2)


def _listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0
