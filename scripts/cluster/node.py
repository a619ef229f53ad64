"""Bring the single-node test cluster up and tear it down, entirely inside network + mount namespaces.

    python -m scripts.cluster.node up             # idempotent: says so when already up and healthy
    python -m scripts.cluster.node down [--purge] # stop by PID, restore sysctls; exit 1 if the host differs
    python -m scripts.cluster.node status         # daemons, PIDs, memory (RSS), health
    python -m scripts.cluster.node enter CMD...   # CMD inside the namespaces, KUBECONFIG=admin.kubeconfig
    python -m scripts.cluster.node forward in NAME HOST_PORT TARGET   # host 127.0.0.1:HOST_PORT -> TARGET inside
    python -m scripts.cluster.node forward out NAME PORT [HOST_PORT]  # inside 10.201.0.1:PORT -> host loopback
    python -m scripts.cluster.node import ARCHIVE...                  # OCI archives into containerd (k8s.io)
    python -m scripts.cluster.node smoke          # a Service through kube-proxy and DNS, from a pod
    python -m scripts.cluster.node check-host     # the host's network (and sysctls) against the record of `up`

Needs root, the binaries of scripts/cluster/build.sh, containerd, runc, the CNI plugins and socat (Debian).
Standard library only. Layout and addresses: scripts/cluster/layout.py and docs/cluster.md ("Node").
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from scripts.cluster import containment, forward, layout, lifecycle, node_images, smoke
from scripts.cluster.proc import DaemonExited, inside, log

# Outside /run/hermes-cluster, which `down` removes while holding it.
LOCK = Path("/run/lock/hermes-cluster.lock")


def _enter(argv: Sequence[str]) -> None:
    env = {**os.environ, "KUBECONFIG": str(layout.ADMIN_KUBECONFIG)}
    env["PATH"] = f"{layout.bin_dir()}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    full = inside(argv or [os.environ.get("SHELL", "/bin/bash")])
    os.execvpe(full[0], full, env)  # noqa: S606 - replaces this process by design


def _forward(args: argparse.Namespace) -> None:
    if args.direction == "in":
        forward.inward(args.name, int(args.port), args.target)
    else:
        forward.outward(args.name, int(args.port), int(args.target) if args.target else None)


def _check_host() -> int:
    lines = containment.diff(with_sysctls=not lifecycle.is_up())
    for line in lines:
        sys.stdout.write(line + "\n")
    log("host unchanged" if not lines else f"host changed: {len(lines)} diff lines")
    return 1 if lines else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.cluster.node", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the cluster (idempotent)")
    down = sub.add_parser("down", help="stop everything and clean up")
    down.add_argument("--purge", action="store_true", help="also remove /var/lib/hermes-cluster (logs, PKI, etcd)")
    sub.add_parser("status", help="daemons, memory, health")
    enter = sub.add_parser("enter", help="run a command inside the namespaces")
    enter.add_argument("argv", nargs=argparse.REMAINDER)
    fwd = sub.add_parser("forward", help="a TCP forward between the host's loopback and the namespace")
    fwd.add_argument("direction", choices=["in", "out"])
    fwd.add_argument("name")
    fwd.add_argument("port", help="in: the host port; out: the port on 10.201.0.1 inside")
    fwd.add_argument("target", nargs="?", default="", help="in: HOST:PORT inside; out: the host port (default PORT)")
    imp = sub.add_parser("import", help="import OCI archives into containerd's k8s.io namespace")
    imp.add_argument("archives", nargs="+")
    smk = sub.add_parser("smoke", help="prove Service routing and DNS from a pod")
    smk.add_argument("--keep", action="store_true", help="leave the smoke namespace in place")
    sub.add_parser("check-host", help="compare the host's network state with the record made by `up`")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if os.geteuid() != 0:
        log("the test cluster needs root (namespaces, mounts, cgroups)")
        return 2
    try:
        if args.command in {"up", "down"}:
            with _exclusive():
                return _dispatch(args)
        return _dispatch(args)
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc})")
        return 130
    except (RuntimeError, TimeoutError, FileNotFoundError, DaemonExited) as exc:
        log(f"failed: {exc}")
        return 1


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    """One `up` or `down` at a time (a second one waits): both start and stop the same PIDs."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another up or down is running (lock {LOCK}); waiting")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _dispatch(args: argparse.Namespace) -> int:
    match args.command:
        case "up":
            lifecycle.up()
        case "down":
            return 0 if lifecycle.down(purge=args.purge) else 1
        case "status":
            return lifecycle.status()
        case "enter":
            _enter(args.argv)
        case "forward":
            _forward(args)
        case "import":
            node_images.import_archives([Path(a) for a in args.archives])
        case "smoke":
            smoke.run_smoke(keep=args.keep)
        case "check-host":
            return _check_host()
    return 0


if __name__ == "__main__":
    sys.exit(main())
