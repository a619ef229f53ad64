"""One Elasticsearch for every pytest-xdist worker of a run (`make test` runs ``-n``).

The controller makes a folder, on tmpfs when the machine has room there (:func:`memory_dir`), and hands it
to each worker (``workerinput``). When the run reaches beyond the unit tests (:func:`may_need_es`) the
controller starts the server there at once, before the workers collect; otherwise the first worker that
collects a test needing it does (under a file lock). Either writes where it listens without waiting for
it; every worker waits for it to answer when its first such test runs. The controller, which outlives
every worker, stops it at the end. Workers stay isolated by name: every test
owns uniquely named aliases and indices (tests/conftest.py), so they share the server, never its data.

A start that fails is written beside the server's record, for every worker to read::

    launcher: launch() ─ raised ─────────────────────────────────▶ failed.txt ◀─ every worker's url() reads
              └─ thread "hermes-es-watch": the process exited ───▶ failed.txt    it while it waits, and fails
                 before answering (its console's tail)                           with the launcher's reason

Only the launcher can tell (it holds the process); without the record, the others would poll a dead
server until their deadline. The watch thread ends once the server answers, or when stop() begins.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scripts.local_es import Server

KEY = "hermes_es_share"
_RECORD = "server.json"
_FAILED = "failed.txt"
_WAIT_S = 120  # a waiter's deadline, as local_es.Server.wait_ready's
_TICK_S = 1.0  # how often a waiter reads the failure record
_MEMORY_NEEDED = 1 << 30  # a container's small /dev/shm (Docker's 64 MiB) would fill: the disk then
# The server a worker started: kept referenced so its Popen is never collected (and warned about) while it runs.
_STARTED: list[Any] = []
# The watch threads this process started, each with the event that ends it (set by stop(), before the folder goes).
_WATCHERS: list[tuple[threading.Thread, threading.Event]] = []


def folder_of(config: Any) -> Path | None:
    """The shared folder this worker was given, or None outside pytest-xdist."""
    workerinput = getattr(config, "workerinput", None)
    return Path(workerinput[KEY]) if workerinput and KEY in workerinput else None


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the handle closes
        yield


class SharedServerError(RuntimeError):
    """The shared Elasticsearch did not start; the message is the launcher's reason."""


def launch(folder: Path, start: Callable[[Path], Server] | None = None) -> None:
    """Start the shared server here without waiting for it, unless a worker already tried.

    The controller calls this before the workers collect, when the run reaches beyond the unit tests
    (:func:`may_need_es`); otherwise a worker does, once it has collected a test that needs the server. Either
    way its start-up overlaps collection and the tests that need no server. ``start``: how to start it
    (default ``scripts.local_es.launch`` with the short-run JVM; a test's own).
    """
    from scripts import local_es

    with _locked(folder):
        if (folder / _RECORD).exists() or (folder / _FAILED).exists():
            return
        folder.chmod(0o755)  # mkdtemp's 0700 would keep out the user Elasticsearch runs as (scripts/local_es.py)
        try:
            server = start(folder / "es") if start else local_es.launch(folder / "es", jvm=local_es.SHORT_RUN_JVM)
        except (Exception, SystemExit) as exc:  # local_es says what is missing (a JDK, a download) by SystemExit
            _fail(folder, f"{type(exc).__name__}: {exc}")
            raise
        _STARTED.append(server)
        (folder / _RECORD).write_text(json.dumps({"url": server.url, "pid": server.pid}))
    stopping = threading.Event()
    watcher = threading.Thread(target=_watch, args=(folder, server, stopping), name="hermes-es-watch", daemon=True)
    _WATCHERS.append((watcher, stopping))
    watcher.start()


def _watch(folder: Path, server: Server, stopping: threading.Event) -> None:
    """Until the launched server answers or stop() begins: write its exit, with why, where every worker
    reads it. A slow start is each waiter's to give up on, by its own deadline."""
    while not stopping.is_set():
        try:
            server.wait_ready(wait_s=_TICK_S)
        except TimeoutError:
            continue
        except RuntimeError as exc:  # the process exited (local_es's message holds its console's tail)
            if not stopping.is_set():
                with suppress(OSError):  # the folder is going: stop() came first
                    _fail(folder, str(exc))
        except OSError:
            pass  # its console log went with the folder
        return


def _fail(folder: Path, reason: str) -> None:
    """Write the launcher's reason at once, whole: a waiter never reads half of it."""
    part = folder / f"{_FAILED}.part"
    part.write_text(reason)
    os.replace(part, folder / _FAILED)


def _failure(folder: Path) -> str | None:
    failed = folder / _FAILED
    return failed.read_text() if failed.exists() else None


def url(folder: Path, start: Callable[[Path], Server] | None = None) -> str:
    """The shared server's URL once it answers; started here if no worker has tried yet.

    Raises :class:`SharedServerError` as soon as the launcher has written that its start failed.
    """
    from scripts import local_es

    launch(folder, start)
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        if (reason := _failure(folder)) is not None:
            raise SharedServerError(reason)
        found = json.loads((folder / _RECORD).read_text())
        # Short waits, the failure record read between them (the launcher watches its own process).
        with suppress(TimeoutError):
            local_es.Server(found["url"], found["pid"], folder / "es").wait_ready(_TICK_S)
            return str(found["url"])
    msg = f"the shared Elasticsearch did not become ready within {_WAIT_S}s (logs in {folder / 'es' / 'logs'})"
    raise TimeoutError(msg)


def started_url(folder: Path) -> str | None:
    """The URL of the server started in ``folder``, if one was and its start did not fail."""
    record = folder / _RECORD
    if not record.exists() or _failure(folder) is not None:
        return None
    return str(json.loads(record.read_text())["url"])


def stop(folder: Path) -> None:
    """Stop the server a worker started in ``folder`` (if any) and remove the folder."""
    from scripts import local_es

    for _, stopping in _WATCHERS:
        stopping.set()
    while _WATCHERS:
        _WATCHERS.pop()[0].join()
    record = folder / _RECORD
    if record.exists():
        found = json.loads(record.read_text())
        local_es.Server(found["url"], found["pid"], folder / "es").stop()
    shutil.rmtree(folder, ignore_errors=True)


def memory_dir() -> str | None:
    """A tmpfs for the shared server's files, if this machine has one (else the temporary directory)."""
    shm = Path("/dev/shm")  # noqa: S108 - a private mkdtemp inside it
    usable = shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free >= _MEMORY_NEEDED
    return str(shm) if usable else None


def may_need_es(args: list[str], root: Path) -> bool:
    """Whether the run's paths reach beyond the unit tests (which never need Elasticsearch)."""
    unit = root / "tests" / "unit"
    paths = [Path(arg.split("::", 1)[0]) for arg in args if not arg.startswith("-")] or [root / "tests"]
    return any(not (root / p).resolve().is_relative_to(unit) for p in paths)
