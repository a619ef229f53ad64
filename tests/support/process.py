"""Run a function as a real functions-framework process on a port (as `make dev` and Knative do)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests

ROOT = Path(__file__).resolve().parents[2]
FF = Path(sys.executable).parent / "functions-framework"
# Read at import, before a test's fixtures clear HERMES_* from the environment.
KEEP_LOGS = os.environ.get("HERMES_TEST_LOGS") or None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(name: str, target: str, port: int, source: str | None = None) -> list[str]:
    """functions-framework's command line for ``functions/<name>/main.py``, or for ``source`` (a path from the
    process's working directory: a benchmark's bare function), as the contract starts a function."""
    return [
        str(FF),
        "--source",
        source or f"functions/{name}/main.py",
        "--target",
        target,
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
    ]


def transient(exc: Exception) -> bool:
    """Whether a check's error means "not yet": its server unreachable or slow (``requests``, the
    Elasticsearch client's connection errors and timeouts), or Elasticsearch answering 503 (a shard of an
    index just created not started yet, which a busy machine makes last seconds)."""
    from elastic_transport import ApiError, TransportError

    if isinstance(exc, requests.RequestException | TransportError):
        return True
    return isinstance(exc, ApiError) and exc.meta.status == 503


def eventually(check: Callable[[], Any], wait_s: float = 60) -> Any:
    """Poll until `check` returns something truthy (a tick, a reload, a paused source); its last answer otherwise.

    A check that fails with a :func:`transient` error counts as not yet.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if found := check():
                return found
        except Exception as exc:
            if not transient(exc):
                raise
        if time.monotonic() > deadline:
            return check()
        time.sleep(0.3)


def wait_live(url: str, proc: subprocess.Popen[Any], wait_s: float, request_timeout_s: float = 2) -> bool:
    """Whether ``url/health/live`` answers 200 within ``wait_s`` while ``proc`` keeps running.

    Every transient failure is "not yet": a refused or reset connection, a read timeout (one slow answer
    on a busy machine), a 5xx. Only the deadline or the process's exit ends the wait.
    """
    deadline = time.monotonic() + wait_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/health/live", timeout=request_timeout_s).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return False


@contextmanager
def running(
    name: str, target: str, env: dict[str, str], wait_s: float = 30, cwd: Path = ROOT, *, port: int | None = None
) -> Iterator[str]:
    """Start the function (from ``cwd``: another checkout for benchmarks); yield its base URL once
    /health/live answers; stop it."""
    with started(name, target, env, wait_s, cwd, port=port) as (url, _):
        yield url


@contextmanager
def started(
    name: str,
    target: str,
    env: dict[str, str],
    wait_s: float = 30,
    cwd: Path = ROOT,
    *,
    port: int | None = None,
    source: str | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """:func:`running`, yielding the process too (to kill it, or to prove it never restarted).

    ``port``: listen there (a function started again where its killed predecessor listened, as Knative's
    next pod behind the same Service). Its logs go to a file, never to a pipe nobody reads: a pipe's 64 KiB
    buffer, once full, would block a long-running function in its next log line. ``HERMES_TEST_LOGS=<dir>``
    keeps them there. ``source``: run that file instead of ``functions/<name>/main.py`` (see :func:`command`).
    """
    port = port or free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "DATA_SOURCE_", "HERMES_"))}
    log = tempfile.NamedTemporaryFile(prefix=f"{name}-{port}-", suffix=".log", dir=KEEP_LOGS, delete=not KEEP_LOGS)  # noqa: SIM115
    proc = subprocess.Popen(
        # PORT as Knative sets it, whatever the settings say: a full load hands its next slice over to itself there.
        command(name, target, port, source),
        cwd=cwd,
        env={**full_env, **env, "PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_live(url, proc, wait_s):
            if proc.poll() is not None:
                raise RuntimeError(Path(log.name).read_text(errors="replace") or "exited")
            raise TimeoutError(f"{name} did not start")
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)
        log.close()


@dataclass(frozen=True)
class Proc:
    """One live process, as /proc/<pid>/stat says (zombies left out)."""

    pid: int
    ppid: int
    session: int


T = TypeVar("T")


def side_by_side(stack: ExitStack, contexts: Sequence[AbstractContextManager[T]]) -> list[T]:
    """Enter ``contexts`` at once, each in a thread (their start-ups overlap instead of adding up), onto
    ``stack``, which exits them. Every thread is joined before this returns or raises, so none enters its
    context after the stack has closed; the first failure is raised once all have ended."""
    with ThreadPoolExecutor(max_workers=max(1, len(contexts))) as pool:
        jobs = [pool.submit(stack.enter_context, context) for context in contexts]
    return [job.result() for job in jobs]


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


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and everything under it at once, as a container's end kills them all.

    Killing functions-framework's process alone would leave its gunicorn worker finishing the request.
    """
    for pid in [proc.pid, *descendants(proc.pid)]:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)
