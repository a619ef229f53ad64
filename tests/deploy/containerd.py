"""A throwaway containerd (the machine's 1.6, CRI off) on a temp root, state and socket, in a mount namespace of
its own, and `ctr` against it:
import an OCI archive as the cluster does, run an image as the kubelet would (runc, read-only root, a tmpfs
/tmp, the image's user, no new privileges). Its runc state lives under the temp folder too, so nothing of a
real cluster's containerd is touched.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

NAMESPACE = "k8s.io"  # the kubelet's: what `ctr -n k8s.io images import` fills
CONFIG = """version = 2
root = "{root}/root"
state = "{root}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{root}/containerd.sock"
[ttrpc]
  address = "{root}/containerd.sock.ttrpc"
"""


@dataclass(frozen=True)
class Containerd:
    folder: Path

    @property
    def address(self) -> str:
        return str(self.folder / "containerd.sock")

    def ctr(self, *args: str, timeout: float = 300) -> str:
        argv = ["ctr", "--address", self.address, "-n", NAMESPACE, *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"
        return done.stdout

    def images(self) -> set[str]:
        return set(self.ctr("images", "ls", "-q").split())

    @contextmanager
    def run(self, image: str, env: dict[str, str], log: Path) -> Iterator[int]:
        """`image` as a pod's container with readOnlyRootFilesystem, an emptyDir /tmp, host network (the test
        reaches it on loopback); yields the task's pid on the host; SIGTERM and removal afterwards."""
        name = f"t-{uuid.uuid4().hex[:10]}"
        pid_file = self.folder / f"{name}.pid"
        argv = ["ctr", "--address", self.address, "-n", NAMESPACE, "run", "--rm", "--read-only", "--net-host"]
        argv += ["--runc-root", str(self.folder / "runc"), "--fifo-dir", str(self.folder / "fifo")]
        argv += ["--pid-file", str(pid_file)]
        argv += ["--mount", "type=tmpfs,src=tmpfs,dst=/tmp,options=rw:nosuid:nodev:mode=1777"]
        argv += [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
        with log.open("wb") as out:
            proc = subprocess.Popen([*argv, image, name], stdout=out, stderr=subprocess.STDOUT)
        try:
            yield _wait_pid(pid_file, proc)
        finally:
            with suppress(AssertionError):
                self.ctr("tasks", "kill", "--signal", "SIGTERM", name, timeout=30)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with suppress(AssertionError):
                    self.ctr("tasks", "kill", "--signal", "SIGKILL", name, timeout=30)
                proc.wait(timeout=30)


def _wait_pid(pid_file: Path, proc: subprocess.Popen[bytes], wait_s: float = 60) -> int:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if pid_file.is_file() and (text := pid_file.read_text().strip()):
            return int(text)
        assert proc.poll() is None, "ctr run ended before its task started"
        time.sleep(0.1)
    raise AssertionError(f"no task pid in {wait_s} s")


@contextmanager
def started(folder: Path) -> Iterator[Containerd]:
    """containerd on `folder` until the block ends; then stopped (by its pid) and its mounts released."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(CONFIG.format(root=folder))
    daemon = Containerd(folder)
    # containerd 1.6's shims put their sockets under /run/containerd/s whatever the config says: give this
    # containerd a mount namespace of its own with a tmpfs there, so nothing of it stays on the host's /run
    # (and its containers' root mounts stay out of the host's mount table).
    private_run = 'mkdir -p /run/containerd && mount -t tmpfs -o mode=0711 tmpfs /run/containerd && exec "$@"'
    argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", private_run, "sh"]
    argv += ["containerd", "--config", str(folder / "config.toml")]
    with (folder / "containerd.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while not _answers(daemon):
            assert proc.poll() is None and time.monotonic() < deadline, (folder / "containerd.log").read_text()
            time.sleep(0.2)
        yield daemon
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        _unmount_under(folder)


def _answers(daemon: Containerd) -> bool:
    done = subprocess.run(["ctr", "--address", daemon.address, "version"], capture_output=True, check=False)
    return done.returncode == 0


def _unmount_under(folder: Path) -> None:
    mounts: Sequence[str] = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if m.startswith(str(folder))), reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
