"""Processes of the test cluster: run a command inside the namespaces, start a daemon, stop it by PID.

Every daemon is started by `spawn` with its own session (Ctrl-C in the terminal reaches `up`, not the
daemons), its log in /var/lib/hermes-cluster/logs/<name>.log and its PID in /run/hermes-cluster/<name>.pid.
`nsenter -n -m` without `--fork` execs the daemon in place, so the PID we record is the daemon's own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from scripts.cluster import layout

# Daemons outlive this process by design; holding their Popen objects keeps them from being collected
# (and warned about) while we still run. `stop_pid` reaps them by PID.
_DETACHED: list[subprocess.Popen[bytes]] = []


def log(msg: str) -> None:
    """Progress on stderr (tooling, not a service: no JSON logs)."""
    sys.stderr.write(f"[cluster] {msg}\n")
    sys.stderr.flush()


def holder_pid() -> int | None:
    """The namespace holder's PID if it is alive, else None."""
    try:
        pid = int(layout.HOLDER_PID.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def inside(argv: Sequence[str]) -> list[str]:
    """`argv` wrapped to run in the holder's network and mount namespaces."""
    pid = holder_pid()
    if pid is None:
        msg = "the cluster's namespaces are not up (no live holder in /run/hermes-cluster/ns.pid)"
        raise RuntimeError(msg)
    return ["nsenter", "-t", str(pid), "-n", "-m", "--", *argv]


def run(
    argv: Sequence[str],
    *,
    input_text: str | None = None,
    check: bool = True,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run a command to completion and return its stdout; a failure raises with its stderr."""
    done = subprocess.run(  # noqa: S603 - our own command lines
        list(argv),
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, **env} if env else None,
    )
    if check and done.returncode != 0:
        msg = f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
        raise RuntimeError(msg)
    return done.stdout


def run_inside(argv: Sequence[str], *, input_text: str | None = None, check: bool = True) -> str:
    """`run` inside the cluster's namespaces."""
    return run(inside(argv), input_text=input_text, check=check)


def pid_file(name: str) -> Path:
    return layout.RUN / f"{name}.pid"


def spawn(name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, in_ns: bool = True) -> int:
    """Start a daemon in the background (inside the namespaces unless `in_ns` is false) and record its PID."""
    layout.LOGS.mkdir(parents=True, exist_ok=True)
    full = inside(argv) if in_ns else list(argv)
    with (layout.LOGS / f"{name}.log").open("ab") as out:
        out.write(f"==== {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(  # noqa: S603 - our own command line
            full,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    pid_file(name).write_text(f"{proc.pid}\n")
    _DETACHED.append(proc)
    return proc.pid


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def daemon_pid(name: str) -> int | None:
    """The recorded PID of daemon `name` if it is still running."""
    try:
        pid = int(pid_file(name).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def stop_pid(pid: int, *, grace: float = 10.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL; reaps it if it is our child."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while alive(pid):
            _reap(pid)
            time.sleep(0.05)
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop(name: str, *, grace: float = 10.0) -> None:
    """Stop daemon `name` by its recorded PID and forget the PID."""
    pid = daemon_pid(name)
    if pid is not None:
        stop_pid(pid, grace=grace)
    pid_file(name).unlink(missing_ok=True)


class DaemonExited(Exception):
    """A daemon `up` started is gone: waiting longer cannot help. Carries the tail of its log."""


def ensure_running(names: Sequence[str]) -> None:
    """Raise DaemonExited, with the last lines of its log, if any daemon of `names` is not running."""
    for name in names:
        if daemon_pid(name) is None:
            log_file = layout.LOGS / f"{name}.log"
            tail = log_file.read_text(errors="replace").splitlines()[-15:] if log_file.exists() else []
            msg = f"{name} exited; the end of {log_file}:\n" + "\n".join(tail)
            raise DaemonExited(msg)


def wait_for(what: str, probe: Callable[[], object], *, timeout: float, interval: float = 0.5) -> None:
    """Call `probe()` until it returns true; raise naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if probe():
                return
        except (RuntimeError, OSError):
            pass
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout:.0f} s waiting for {what}"
            raise TimeoutError(msg)
        time.sleep(interval)
