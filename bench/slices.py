"""Sliced full loads through the full_load function: sliced vs one-shot, fan-out, peak RSS per worker.

Every load is one POST of a ``dev.hermes.load.full`` CloudEvent to a full_load function process
(functions-framework → gunicorn, as deployed), timed from that POST until the alias points at the new
index: the first POST answers after the first slice, the rest goes on by the hand-overs.

- **sliced vs one-shot**: one function process, no ``K_SINK``, so it hands over to itself on its ``PORT``;
  one-shot is ``HERMES_SLICE_S`` large enough that one slice holds the whole load, sliced a length giving
  several slices. Both processes are up for the whole section and their loads alternate.
- **fan-out**: n function processes (one gunicorn worker each) behind a :class:`Router` in this process
  that sends each request to an idle process and queues the others, as Knative's activator and
  queue-proxy do for ``containerConcurrency: 1``. Each process's ``PORT`` names the router, so a hand-over
  (to itself on ``PORT``) reaches whichever process is free, as one through the Broker reaches whichever
  pod is free. gunicorn ``WORKERS=n`` in one process was not used: its workers share one socket and each
  takes several requests at once (``THREADS``), so two slices could run in one worker while another idles.
- **peak RSS**: ``VmHWM`` of ``/proc/<pid>/status`` of every gunicorn worker, read after its loads.

The source is bench/source_server.py in JSON pages of ``PAGE`` records (a sliced load stops at a page end).
"""

from __future__ import annotations

import os
import queue
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from bench.checks import BenchmarkError, expect
from hermes.client import build_client
from hermes.load.checkpoints import Checkpoints
from hermes.settings import Settings, to_environ
from tests.support.process import command, descendants, free_port, wait_live

ROOT = Path(__file__).resolve().parent.parent
PAGE = 1000
ONE_SHOT_S = 3600.0  # HERMES_SLICE_S's largest value: one slice holds any load here
_DROPPED = ("ES_", "DATA_SOURCE_", "HERMES_", "K_SINK", "PORT", "WORKERS", "THREADS")


class Router:
    """Each POST to an idle backend, one request per backend at a time, the rest queued (see the module doc)."""

    def __init__(self, ports: list[int]) -> None:
        self.idle: queue.Queue[int] = queue.Queue()
        for port in ports:
            self.idle.put(port)
        self.served: dict[int, int] = dict.fromkeys(ports, 0)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        port = self.idle.get()
        try:
            self.served[port] += 1
            return requests.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers, timeout=3600)
        finally:
            self.idle.put(port)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        router = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sent = {k: v for k, v in self.headers.items() if k.lower().startswith("ce-") or k == "Content-Type"}
                resp = router.forward(self.path, body, sent)
                self.send_response(resp.status_code)
                for name, value in resp.headers.items():
                    if name.lower().startswith("ce-") or name.lower() == "content-type":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

        return Handler


@dataclass
class Workers:
    """Running full_load function processes and the URL a load is started at."""

    url: str
    procs: list[subprocess.Popen[bytes]]
    logs: list[Path]
    router: Router | None = None
    loads: list[dict[str, Any]] = field(default_factory=list)

    def peak_rss_mb(self) -> list[float]:
        """``VmHWM`` of each process's gunicorn worker(s): the most memory it ever held."""
        peaks = []
        for proc in self.procs:
            for pid in descendants(proc.pid):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
        return peaks

    def log_tail(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-6000:] for path in self.logs)


@contextmanager
def workers(count: int, env: dict[str, str], *, routed: bool) -> Iterator[Workers]:
    """``count`` full_load processes; routed: behind a :class:`Router` named by their ``PORT``, else one process
    whose ``PORT`` is its own (the self hand-over of ``make dev``)."""
    ports = [free_port() for _ in range(count)]
    expect(routed or count == 1, "an unrouted function is one process")
    router = Router(ports) if routed else None
    hand_over_port = router.port if router else ports[0]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    with ExitStack() as stack:
        procs, logs = [], []
        for port in ports:
            log = stack.enter_context(tempfile.NamedTemporaryFile(prefix=f"full_load-{port}-", suffix=".log"))
            proc = subprocess.Popen(  # noqa: S603 - functions-framework from our venv, our function
                command("full_load", "full_load", port),
                cwd=ROOT,
                env={**clean, **env, "PORT": str(hand_over_port), "WORKERS": "1", "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(_stop, proc)
            procs.append(proc)
            logs.append(Path(log.name))
        if router is not None:
            stack.callback(router.close)
        for port, proc in zip(ports, procs, strict=True):
            _wait_own(port, proc)
        url = f"http://127.0.0.1:{hand_over_port}/"
        yield Workers(url, procs, logs, router)


def _wait_own(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Wait until ``proc`` serves ``port``. gunicorn forks its worker only once it holds the socket: on a
    machine where other test runs start functions on free ports too, a live answer alone could be theirs."""
    deadline = time.monotonic() + 60
    while not descendants(proc.pid):
        expect(proc.poll() is None and time.monotonic() < deadline, f"a full_load function did not bind {port}")
        time.sleep(0.05)
    expect(wait_live(f"http://127.0.0.1:{port}", proc, 60), "a full_load function did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def function_env(es_url: str, alias: str, source: str, slice_s: float, partitions: int) -> dict[str, str]:
    values = {
        "ES_URL": es_url,
        "ES_INDEX": alias,
        "DATA_SOURCE_URL": source,
        "HERMES_SLICE_S": str(slice_s),
        "HERMES_LOAD_PARTITIONS": str(partitions),
        "HERMES_LOG_LEVEL": "WARNING",
        "HERMES_ES_BULK_TIMEOUT_S": "120",
        "HERMES_PRUNE_GRACE_S": "0",
    }
    return to_environ(Settings.model_validate(values))


def served_index(es_url: str, alias: str) -> str | None:
    resp = requests.get(f"{es_url}/_alias/{alias}", timeout=30)
    return None if resp.status_code == 404 else next(iter(resp.json()), None)


def timed_load(es_url: str, alias: str, side: Workers, expected: int) -> dict[str, Any]:
    """One load, POST → alias moved; its slices, and the records served after it."""
    headers = {
        "Ce-Specversion": "1.0",
        "Ce-Type": "dev.hermes.load.full",
        "Ce-Source": "/bench/slices",
        "Ce-Id": uuid.uuid4().hex,
        "Content-Type": "application/json",
    }
    for _ in range(600):  # the previous load still prunes and frees its lock after the swap: 409, as Knative retries
        started = time.perf_counter()
        resp = requests.post(side.url, data=b'{"force": true}', headers=headers, timeout=3600)
        if resp.status_code != 409:
            break
        time.sleep(0.1)
    if resp.status_code != 200:
        msg = f"the full load answered {resp.status_code}: {resp.text[:500]}\n{side.log_tail()}"
        raise BenchmarkError(msg)
    index = resp.json()["index"]
    books = Checkpoints(build_client(Settings(ES_URL=es_url, HERMES_ES_TIMEOUT_S=30)), f"{alias}.hermes-state")
    load_id = index.rsplit("-", 1)[1]
    while served_index(es_url, alias) != index:
        record = books.load(load_id)
        if record is not None and record.status in ("failed", "cancelled"):
            msg = f"the full load ended {record.status}: {record.error}\n{side.log_tail()}"
            raise BenchmarkError(msg)
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    record = books.load(load_id)
    expect(record is not None, "the load's record is gone")
    slices = sum(p.slice for p in books.partitions(record)) if record else 0
    count = int(requests.get(f"{es_url}/{alias}/_count", timeout=30).json()["count"])
    expect(count == expected, f"the load served {count} records, not {expected}")
    out = {"wall_s": elapsed, "slices": slices, "first_answer": resp.json()["status"]}
    side.loads.append(out)
    return out


def warm(source: str, partitions: int) -> None:
    """Have the source render each partition's listing before anything is timed."""
    for index in range(partitions):
        url = source if partitions == 1 else f"{source}?partition={index}&partitions={partitions}"
        requests.get(url, timeout=1800).raise_for_status()


def sliced_vs_one_shot(es_url: str, source_base: str, n: int, slice_s: float, reps: int) -> dict[str, Any]:
    """Loads of ``n`` records: one slice vs slices of ``slice_s``, alternating, each in its own process."""
    source = f"{source_base}/n={n}/page={PAGE}"
    warm(source, 1)
    alias = "bench-sliced"
    sides = {"one-shot": ONE_SHOT_S, "sliced": slice_s}
    out: dict[str, Any] = {"n": n, "slice_s": slice_s, "page": PAGE, "reps": reps}
    with ExitStack() as stack:
        running = {
            name: stack.enter_context(workers(1, function_env(es_url, alias, source, seconds, 1), routed=False))
            for name, seconds in sides.items()
        }
        timed_load(es_url, alias, running["sliced"], n)  # warm: the alias exists, ES and page cache are hot
        running["sliced"].loads.clear()
        for _ in range(reps):
            for side in running.values():
                timed_load(es_url, alias, side, n)
        for name, side in running.items():
            out[name] = {
                "wall_s": [load["wall_s"] for load in side.loads],
                "slices": [load["slices"] for load in side.loads],
                "peak_rss_mb": side.peak_rss_mb(),
            }
    one, sliced = (statistics.median(out[name]["wall_s"]) for name in sides)
    out["ratio"] = one / sliced  # sliced throughput over one-shot throughput
    return out


def fan_out(
    es_url: str, source_base: str, n: int, slice_s: float, *, configs: list[tuple[int, int]], reps: int
) -> dict[str, Any]:
    """Loads of ``n`` records with (partitions, worker processes) each of ``configs``, rounds alternating."""
    source = f"{source_base}/n={n}/page={PAGE}"
    for partitions in {p for p, _ in configs}:
        warm(source, partitions)
    alias = "bench-fanout"
    rows: dict[tuple[int, int], dict[str, Any]] = {c: {"wall_s": [], "slices": [], "peak_rss_mb": []} for c in configs}
    for rep in range(reps):
        for partitions, count in configs if rep % 2 == 0 else reversed(configs):
            env = function_env(es_url, alias, source, slice_s, partitions)
            with workers(count, env, routed=True) as side:
                got = timed_load(es_url, alias, side, n)
                row = rows[partitions, count]
                row["wall_s"].append(got["wall_s"])
                row["slices"].append(got["slices"])
                row["peak_rss_mb"] += side.peak_rss_mb()
                row["per_worker"] = sorted(side.router.served.values()) if side.router else []
    base = statistics.median(rows[configs[0]]["wall_s"])
    table = [
        {
            "partitions": p,
            "workers": w,
            **rows[p, w],
            "median_s": statistics.median(rows[p, w]["wall_s"]),
            "speedup": base / statistics.median(rows[p, w]["wall_s"]),
        }
        for p, w in configs
    ]
    return {"n": n, "slice_s": slice_s, "page": PAGE, "reps": reps, "rows": table}
