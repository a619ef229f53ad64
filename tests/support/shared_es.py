"""One Elasticsearch for every pytest-xdist worker of a run (`make test` runs ``-n``).

The controller hands each worker a folder (``workerinput``); the first worker that collects tests needing
Elasticsearch starts it there under a file lock and writes where it listens, without waiting for it; every
worker waits for it to answer when its first such test runs. The
controller, which outlives every worker, stops it at the end. Workers stay isolated by name: every test
owns uniquely named aliases and indices (tests/conftest.py), so they share the server, never its data.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

KEY = "hermes_es_share"
_RECORD = "server.json"
# The server a worker started: kept referenced so its Popen is never collected (and warned about) while it runs.
_STARTED: list[Any] = []


def folder_of(config: Any) -> Path | None:
    """The shared folder this worker was given, or None outside pytest-xdist."""
    workerinput = getattr(config, "workerinput", None)
    return Path(workerinput[KEY]) if workerinput and KEY in workerinput else None


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the handle closes
        yield


def launch(folder: Path) -> None:
    """Start the shared server here without waiting for it, unless a worker already did.

    A worker calls this as soon as it has collected tests that need Elasticsearch, so that the server's
    start-up (tens of seconds on 2 cores) overlaps the other workers' collection and the tests that need
    no server.
    """
    from scripts import local_es

    with _locked(folder):
        if (folder / _RECORD).exists():
            return
        folder.chmod(0o755)  # mkdtemp's 0700 would keep out the user Elasticsearch runs as (scripts/local_es.py)
        server = local_es.launch(folder / "es", jvm=local_es.SHORT_RUN_JVM)
        _STARTED.append(server)
        (folder / _RECORD).write_text(json.dumps({"url": server.url, "pid": server.pid}))


def url(folder: Path) -> str:
    """The shared server's URL once it answers; started here if no worker has started it yet."""
    from scripts import local_es

    launch(folder)
    found = json.loads((folder / _RECORD).read_text())
    # The worker that launched it watches its own process (a start that fails says why at once).
    mine = [server for server in _STARTED if server.pid == found["pid"]]
    server = mine[0] if mine else local_es.Server(found["url"], found["pid"], folder / "es")
    server.wait_ready()
    return str(found["url"])


def started_url(folder: Path) -> str | None:
    """The URL of the server a worker started in ``folder``, if one did."""
    record = folder / _RECORD
    return str(json.loads(record.read_text())["url"]) if record.exists() else None


def stop(folder: Path) -> None:
    """Stop the server a worker started in ``folder`` (if any) and remove the folder."""
    from scripts import local_es

    record = folder / _RECORD
    if record.exists():
        found = json.loads(record.read_text())
        local_es.Server(found["url"], found["pid"], folder / "es").stop()
    shutil.rmtree(folder, ignore_errors=True)
