"""The hand-over of the workers' shared Elasticsearch (tests/support/shared_es.py): the launching worker's
outcome, read by the others from the shared folder. No Elasticsearch: launchers of our own, one that fails
on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scripts.local_es import Server
from tests.support import shared_es
from tests.support.process import free_port


@pytest.fixture(autouse=True)
def _own_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """The servers these tests launch stay out of the module's list of this worker's real ones."""
    monkeypatch.setattr(shared_es, "_STARTED", [])


def _never(run_dir: Path) -> Server:
    """A waiter's start: a waiter must never start a second server."""
    raise AssertionError(f"a waiter started a server in {run_dir}")


def _no_java(run_dir: Path) -> Server:
    raise SystemExit("Elasticsearch 8.19.21 needs Java 17+; JDKs found: none")


def _exits_at_start(run_dir: Path) -> Server:
    """A server process that writes why to its console and exits before it ever listens."""
    (run_dir / "logs").mkdir(parents=True)
    with (run_dir / "logs" / "console.log").open("ab") as console:
        proc = subprocess.Popen(
            [sys.executable, "-c", "print('BindTransportException: port in use'); raise SystemExit(78)"],
            stdout=console,
            stderr=subprocess.STDOUT,
        )
    return Server(f"http://127.0.0.1:{free_port()}", proc.pid, run_dir, proc)


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def healthy() -> Iterator[str]:
    """A URL whose cluster health answers 200, as a ready Elasticsearch's does."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_waiter_fails_with_the_launchers_reason_when_its_start_raised(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        shared_es.launch(tmp_path, start=_no_java)
    with pytest.raises(shared_es.SharedServerError, match="needs Java 17"):
        shared_es.url(tmp_path, start=_never)


def test_a_waiter_fails_with_the_servers_console_when_it_exited_before_answering(tmp_path: Path) -> None:
    """Before: a waiter polled the dead server's port until its 120 s deadline, then said only that."""
    shared_es.launch(tmp_path, start=_exits_at_start)
    with pytest.raises(shared_es.SharedServerError, match=r"(?s)exited with 78.*port in use"):
        shared_es.url(tmp_path, start=_never)


def test_a_waiter_gets_the_launched_servers_url_once_it_answers(tmp_path: Path, healthy: str) -> None:
    shared_es.launch(tmp_path, start=lambda run_dir: Server(healthy, os.getpid(), run_dir))
    assert shared_es.url(tmp_path, start=_never) == healthy
    assert shared_es.started_url(tmp_path) == healthy


@pytest.mark.parametrize(
    ("args", "needs"),
    [
        ([], True),  # pyproject's testpaths: every folder
        (["tests"], True),
        (["tests/unit", "tests/integration"], True),
        (["tests/integration/search/test_rules.py::test_x"], True),
        (["tests/unit"], False),
        (["tests/unit/core/test_node.py::test_x", "tests/unit/search"], False),
    ],
)
def test_a_run_of_unit_tests_only_never_starts_the_shared_server_early(args: list[str], needs: bool) -> None:
    root = Path(__file__).resolve().parents[3]
    assert shared_es.may_need_es(args, root) is needs
    assert shared_es.may_need_es([str(root / a) for a in args], root) is needs
