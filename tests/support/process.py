"""Run a function as a real functions-framework process on a port (as `make dev` and Knative do)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def running(name: str, target: str, env: dict[str, str], wait_s: float = 30) -> Iterator[str]:
    """Start the function; yield its base URL once /health/live answers; stop it."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "DATA_SOURCE_", "HERMES_"))}
    proc = subprocess.Popen(command(name, target, port), cwd=ROOT, env={**full_env, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
            try:
                if requests.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not start")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stderr:
            proc.stderr.close()
