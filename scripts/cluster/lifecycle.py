"""`up` and `down`: the order things start and stop in, and what `down` cleans up.

up:   record the host -> save sysctls -> images, PKI -> holder + interfaces + mounts -> etcd, containerd,
      apiserver -> images imported -> /readyz -> host forward -> controller-manager, scheduler, kubelet,
      kube-proxy -> node Ready -> CoreDNS Ready. Any failure or Ctrl-C runs `down` before re-raising.
down: kubelet -> pod processes (the cluster's cgroups) -> every other daemon and forward, by recorded PID ->
      leftovers in our mount namespace (runc shims) -> the holder -> the cluster's cgroups -> sysctls -> files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from scripts.cluster import addons, configs, containment, daemons, forward, kube, layout, netns, node_images, pki
from scripts.cluster.proc import (
    alive,
    daemon_pid,
    ensure_running,
    holder_pid,
    log,
    run_inside,
    spawn,
    stop,
    stop_pid,
    wait_for,
)

MNT_NS_FILE = layout.RUN / "ns.mnt"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# What `down` removes without --purge: the cluster's state, so the next `up` starts a fresh cluster. Kept: logs,
# the PKI and kubeconfigs (a host.kubeconfig stays valid across restarts), the host record of `check-host`.
_RESET = [
    layout.ETCD_DATA,
    layout.KUBELET_ROOT,
    layout.CONTAINERD_ROOT,
    layout.STATE / "cni-ipam",
    layout.STATE / "var-log",
    layout.STATE / "var-lib-cni",
]


def is_up() -> bool:
    return holder_pid() is not None


def healthy() -> bool:
    """Holder and every daemon alive, apiserver ready, node Ready, CoreDNS Ready."""
    if not is_up() or any(daemon_pid(name) is None for name in daemons.NAMES):
        return False
    try:
        return kube.apiserver_ready() and kube.node_ready() and kube.deployment_ready("kube-system", "coredns")
    except RuntimeError:
        return False


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def up() -> None:
    """Start the cluster; if it is already up and healthy, say so and do nothing."""
    if healthy():
        log("already up and healthy (KUBECONFIG=/var/lib/hermes-cluster/host.kubeconfig from the host)")
        return
    if is_up() and all(daemon_pid(name) is not None for name in daemons.NAMES):
        # Every process runs: not ready yet (a CoreDNS restart, a loaded machine) is no reason to wipe a cluster
        # others may be using. Wait for it, and leave the decision to tear down to a person.
        log("the cluster runs but is not ready: waiting")
        _wait_ready(timeout=120)
        log("up and healthy")
        return
    if is_up() or any(layout.RUN.glob("*.pid")):
        log("a previous cluster is partly up (a daemon or the holder is gone): taking it down first")
        down(purge=False)
    # Explicit handlers: a shell starts background jobs with SIGINT ignored, and Python then keeps it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupted)
    started = time.monotonic()
    try:
        _bring_up(started)
    except BaseException:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not leave `down` half done
        log("bring-up failed: taking down what was started (logs kept in /var/lib/hermes-cluster/logs)")
        down(purge=False)
        raise
    log(
        f"cluster up in {time.monotonic() - started:.1f} s; from the host: "
        f"KUBECONFIG={layout.HOST_KUBECONFIG} kubectl get nodes"
    )


def _bring_up(started: float) -> None:
    def mark(what: str) -> None:
        log(f"{what} at {time.monotonic() - started:.1f} s")

    for folder in (layout.RUN, layout.STATE, layout.LOGS):
        folder.mkdir(parents=True, exist_ok=True)
    for previous in layout.LOGS.glob("*.log"):  # one generation kept: the last run's logs stay readable
        previous.replace(previous.with_suffix(".log.1"))
    containment.record()
    netns.save_host_sysctls()
    for name in (
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
        "kubectl",
        "etcd",
        "coredns",
    ):
        layout.binary(name)
    node_images.build_all()
    pki.make_all()
    mark("images and PKI made")
    holder = netns.start_holder()
    MNT_NS_FILE.write_text(os.readlink(f"/proc/{holder}/ns/mnt"))
    netns.configure()
    snapshotter = _choose_snapshotter()
    node_images.SNAPSHOTTER_FILE.write_text(snapshotter)
    configs.write_all(snapshotter)
    for daemon in (daemons.etcd(), daemons.containerd(), daemons.apiserver()):
        spawn(daemon.name, daemon.argv)
    wait_for("containerd's socket", layout.CONTAINERD_SOCK.exists, timeout=30, interval=0.1)
    node_images.import_archives(node_images.own_archives())
    wait_for("the apiserver's /readyz", _watching(kube.apiserver_ready), timeout=120)
    mark("apiserver ready")
    forward.inward("apiserver", layout.HOST_APISERVER_PORT, f"{layout.NODE_IP}:{layout.APISERVER_PORT}")
    _make_cgroup_parent()
    for daemon in (daemons.controller_manager(), daemons.scheduler(), daemons.kubelet(), daemons.kube_proxy()):
        spawn(daemon.name, daemon.argv)
    # CoreDNS is applied before the node is Ready: the scheduler places it the moment the node can take it.
    kube.kubectl("apply", "-f", "-", input_text=addons.coredns())
    _wait_ready(timeout=180, mark=mark)


def _wait_ready(*, timeout: float, mark: Callable[[str], None] | None = None) -> None:
    """The apiserver ready, the node Ready, CoreDNS Ready; fails at once if a daemon exits."""
    wait_for("the apiserver's /readyz", _watching(kube.apiserver_ready), timeout=timeout)
    wait_for("node Ready", _watching(kube.node_ready), timeout=timeout)
    if mark is not None:
        mark("node Ready")
    wait_for("CoreDNS Ready", _watching(lambda: kube.deployment_ready("kube-system", "coredns")), timeout=timeout)


def _watching(probe: Callable[[], bool]) -> Callable[[], bool]:
    """`probe`, failing at once if a daemon started so far has exited (its log's tail in the error)."""

    def checked() -> bool:
        ensure_running([p.stem for p in layout.RUN.glob("*.pid") if p != layout.HOLDER_PID])
        return probe()

    return checked


def _choose_snapshotter() -> str:
    """overlayfs if an overlay mount works inside the mount namespace, else native (copies, slower)."""
    base = layout.STATE / "overlay-check"
    dirs = [base / d for d in ("lower", "upper", "work", "merged")]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={dirs[0]},upperdir={dirs[1]},workdir={dirs[2]}"
    try:
        run_inside(["mount", "-t", "overlay", "overlay", "-o", options, str(dirs[3])])
        run_inside(["umount", str(dirs[3])])
    except RuntimeError as exc:
        log(f"overlay mounts fail in the namespace ({exc}); using the native snapshotter")
        return "native"
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return "overlayfs"


def down(*, purge: bool) -> bool:
    """Stop everything `up` started, by PID, and leave the host as it was; False if the host still differs."""
    mnt_ns = MNT_NS_FILE.read_text() if MNT_NS_FILE.exists() else None
    stop("kubelet")
    _kill_pods()
    for name in reversed(daemons.NAMES):
        stop(name)
    for pid_file in sorted(layout.RUN.glob("*.pid")):
        if pid_file != layout.HOLDER_PID:
            stop(pid_file.stem, grace=3)
    if mnt_ns is not None:
        for pid in _in_mount_ns(mnt_ns):
            stop_pid(pid, grace=3)
    holder = holder_pid()
    if holder is not None:
        log(f"unmounted {netns.unmount_all(holder)} mounts inside the namespace")
        stop_pid(holder, grace=3)
    for point in netns.host_mounts():
        log(f"warning: {point} is mounted on the host")
    _remove_kubepods_cgroups()
    for line in netns.restore_host_sysctls():
        log(f"restored {line}")
    netns.remove_created_mount_points()
    shutil.rmtree(layout.RUN, ignore_errors=True)
    clean = _host_as_before()
    for folder in [layout.STATE] if purge else _RESET:
        shutil.rmtree(folder, ignore_errors=True)
    log("down" + (" (purged /var/lib/hermes-cluster)" if purge else "; logs kept in /var/lib/hermes-cluster/logs"))
    return clean


def _host_as_before() -> bool:
    """Compare the host's network and sysctls with the record of `up`; forget the record if they match."""
    if not containment.BEFORE.exists():
        return True
    changes = containment.diff(with_sysctls=True)
    log("host network and sysctls as before `up`" if not changes else "host differs from before `up`:")
    for line in changes:
        log(line)
    if not changes:
        containment.forget()
    return not changes


def _hierarchies() -> list[Path]:
    """Each mounted cgroup hierarchy (v1 controllers, the unified one), symlinked aliases left out."""
    return [
        d for d in sorted(CGROUP_ROOT.iterdir()) if d.is_dir() and not d.is_symlink() and (d / "cgroup.procs").exists()
    ]


def _make_cgroup_parent() -> None:
    """The kubelet's cgroupRoot in every hierarchy: it must exist before the kubelet starts (it validates it).

    A new cpuset cgroup starts with no CPUs and no memory nodes: give ours its parent's, as runc does for
    the cgroups it creates (libcontainer/cgroups/fs/cpuset.go, ensureParent)."""
    for hierarchy in _hierarchies():
        parent = hierarchy / layout.CGROUP_PARENT
        parent.mkdir(exist_ok=True)
        for knob in ("cpuset.cpus", "cpuset.mems"):
            if (parent / knob).exists() and not _read(parent / knob).strip():
                (parent / knob).write_text(_read(hierarchy / knob))


def _kubepods() -> list[Path]:
    """This cluster's cgroup folders (its cgroupRoot and all below it) in every hierarchy, deepest first."""
    # os.walk, not Path.rglob: a pod's cgroup may vanish while we walk (its processes just exited), and os.walk
    # skips a folder it can no longer list where rglob raises.
    found = [Path(folder) for top in CGROUP_ROOT.glob(f"*/{layout.CGROUP_PARENT}") for folder, _, _ in os.walk(top)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _kill_pods() -> None:
    """SIGKILL every process in this cluster's cgroups: the pods' containers and sandboxes."""
    for _ in range(50):
        pids = {int(x) for d in _kubepods() for x in _read(d / "cgroup.procs").split()}
        pids = {p for p in pids if alive(p)}
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _in_mount_ns(mnt_ns: str) -> list[int]:
    """Processes still in our mount namespace (e.g. containerd's shims), the holder excluded."""
    holder = holder_pid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in {holder, os.getpid()}:
            with contextlib.suppress(OSError):
                if os.readlink(entry / "ns" / "mnt") == mnt_ns:
                    found.append(int(entry.name))
    return found


def _remove_kubepods_cgroups() -> None:
    for folder in _kubepods():
        with contextlib.suppress(OSError):
            folder.rmdir()


def _rss_kib(pid: int) -> int:
    for line in _read(Path(f"/proc/{pid}/status")).splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def status() -> int:
    """Print each daemon's PID and RSS, the pods' and shims' RSS, the total and the health; 0 iff healthy."""
    total = 0
    for pid_file in sorted(layout.RUN.glob("*.pid")):
        pid = daemon_pid(pid_file.stem) if pid_file != layout.HOLDER_PID else holder_pid()
        rss = _rss_kib(pid) if pid else 0
        total += rss
        log(f"{pid_file.stem:28} pid {pid or '-':>7}  rss {rss / 1024:7.1f} MiB")
    pods = {int(x) for d in _kubepods() for x in _read(d / "cgroup.procs").split()}
    pod_rss = sum(_rss_kib(p) for p in pods)
    recorded = {int(p.read_text()) for p in layout.RUN.glob("*.pid") if p.read_text().strip().isdigit()}
    shims = [p for p in _in_mount_ns(MNT_NS_FILE.read_text()) if p not in recorded] if MNT_NS_FILE.exists() else []
    shim_rss = sum(_rss_kib(p) for p in shims)
    log(f"{'pods (' + str(len(pods)) + ' processes)':28} rss {pod_rss / 1024:7.1f} MiB")
    log(f"{'shims (' + str(len(shims)) + ' processes)':28} rss {shim_rss / 1024:7.1f} MiB")
    log(f"{'total':28} rss {(total + pod_rss + shim_rss) / 1024:7.1f} MiB")
    ok = healthy()
    log("healthy" if ok else "NOT healthy (or not up)")
    return 0 if ok else 1
