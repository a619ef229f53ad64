"""Run a function as a real functions-framework process on a port (as `make dev` and Knative do)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
FF = Path(sys.executable).parent / "functions-framework"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(name: str, target: str, port: int) -> list[str]:
    return [str(FF), "--source", f"functions/{name}/main.py", "--target", target,
            "--port", str(port), "--host", "127.0.0.1"]  # fmt: skip


def wait_live(url: str, proc: subprocess.Popen[bytes], wait_s: float) -> bool:
    """Whether ``url/health/live`` answers 200 within ``wait_s`` while ``proc`` keeps running."""
    deadline = time.monotonic() + wait_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/health/live", timeout=1).status_code == 200:
                return True
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    return False


@contextmanager
def running(name: str, target: str, env: dict[str, str], wait_s: float = 30, cwd: Path = ROOT) -> Iterator[str]:
    """Start the function (from ``cwd``: another checkout for benchmarks); yield its base URL once
    /health/live answers; stop it."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "DATA_SOURCE_", "HERMES_"))}
    proc = subprocess.Popen(command(name, target, port), cwd=cwd, env={**full_env, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_live(url, proc, wait_s):
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
            raise TimeoutError(f"{name} did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stderr:
            proc.stderr.close()


@dataclass(frozen=True)
class Proc:
    """One live process, as /proc/<pid>/stat says (zombies left out)."""

    pid: int
    ppid: int
    session: int


def processes() -> list[Proc]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        if fields[0] != "Z":
            found.append(Proc(int(stat.parent.name), int(fields[1]), int(fields[3])))
    return found


def descendants(root: int) -> list[int]:
    """Every process under `root` (children, their children, ...)."""
    children: dict[int, list[int]] = {}
    for proc in processes():
        children.setdefault(proc.ppid, []).append(proc.pid)
    todo, found = list(children.get(root, [])), []
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found
