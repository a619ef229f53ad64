"""`make dev`: the whole Knative flow on one machine, in the foreground, with hot reload.

Elasticsearch (the project's own, data kept between runs; `ES_URL` → that cluster instead), the demo data
source with its schema (`examples/<demo>/`; `DEV_DEMO=library` → the books instead of the cities;
`DATA_SOURCE_URL` → yours instead; `DEV_DEMO_CITIES=N` → the N most populous cities only), the
three functions in functions-framework's debug mode (an edit to a function or to `hermes/` reloads it:
scripts/function_server.py), a first full load posted as a CloudEvent, and a local PingSource firing the
delta on knative/'s schedule (`DEV_PING_EVERY=30s` shortens it). Ctrl-C stops all of it but
Elasticsearch (`make es-down`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from scripts import demo_source, local_es, pingsource

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Ports:
    search: int = field(default_factory=lambda: int(os.environ.get("SEARCH_PORT", "8080")))
    full_load: int = field(default_factory=lambda: int(os.environ.get("FULL_LOAD_PORT", "8081")))
    delta_load: int = field(default_factory=lambda: int(os.environ.get("DELTA_LOAD_PORT", "8082")))
    source: int = field(default_factory=lambda: int(os.environ.get("DEV_SOURCE_PORT", "8090")))


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def start_function(name: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The function in debug mode (``python -m scripts.function_server``), in its own process group: its reloader
    forks a child, and Ctrl-C must stop both."""
    argv = [sys.executable, "-m", "scripts.function_server", name, str(port)]
    # PORT as Knative sets it: a full load without K_SINK hands its next slice over to itself there.
    env = {**env, "PORT": str(port)}
    return subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603


def newest_source() -> float:
    """When a file of a function or of the shared package last changed."""
    return max(path.stat().st_mtime for folder in ("hermes", "functions") for path in (ROOT / folder).rglob("*.py"))


def wait_live(url: str, procs: list[subprocess.Popen[bytes]], wait_s: float = 60) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        if any(p.poll() is not None for p in procs):
            msg = "a function exited during start-up (its output is above)"
            raise RuntimeError(msg)
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/health/live", timeout=5).status_code == 200:
                return
        if time.monotonic() > deadline:
            msg = f"{url} did not answer /health/live"
            raise TimeoutError(msg)
        time.sleep(0.2)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each function's process group (reloader and child), then SIGKILL what is left."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the reloader's child too, whatever the parent did


def full_load(url: str) -> str:
    headers = {
        "Ce-Specversion": "1.0",
        "Ce-Type": "dev.hermes.load.full",
        "Ce-Source": "make-dev",
        "Ce-Id": f"dev-{uuid.uuid4()}",
        "Content-Type": "application/json",
    }
    resp = requests.post(url, data=b"{}", headers=headers, timeout=600)
    return f"{resp.status_code} {resp.text.strip()}"


def banner(ports: Ports, source_url: str, es_url: str, every: str | None, ping: pingsource.PingSource) -> str:
    s, f, d = (f"http://127.0.0.1:{p}" for p in (ports.search, ports.full_load, ports.delta_load))
    schedule = f"every {every}" if every else f"{ping.schedule} ({ping.timezone})"
    change = f"curl -X POST {source_url.rsplit('/records', 1)[0]}/change" if "/records" in source_url else ""
    return f"""
=== Hermes is running (Ctrl-C stops it; `make es-down` stops Elasticsearch) ===
  playground    {s}/
  search        {s}/search?q=pariss
  full load     {f}/        delta load  {d}/        data source  {source_url}
  Elasticsearch {es_url}    PingSource {ping.name}: {schedule}
  curl '{s}/search?q=pariss&tag=fr'
  curl {f}/ -H 'Ce-Specversion: 1.0' -H 'Ce-Type: dev.hermes.load.full' -H 'Ce-Source: curl' \\
       -H 'Ce-Id: 1' -H 'Content-Type: application/json' -d '{{}}'
  curl {d}/ -H 'Ce-Specversion: 1.0' -H 'Ce-Type: dev.knative.sources.ping' -H 'Ce-Source: curl' \\
       -H 'Ce-Id: 2' -H 'Content-Type: application/json' -d '{{}}'
  {change}{"   (or: make demo-change)" if change else ""}
"""


def demo_records(demo: str) -> dict[str, dict[str, Any]]:
    """The demo's records by id: GeoNames cities (`DEV_DEMO_CITIES=N`: the N most populous), or a file."""
    if demo == "cities":
        limit = os.environ.get("DEV_DEMO_CITIES")
        return demo_source.cities(int(limit) if limit else None)
    path = ROOT / "examples" / demo / "books.json"
    if demo != "library" or not path.exists():
        sys.exit(f"DEMO={demo}: the demos are cities and library")
    return {r["id"]: r for r in json.loads(path.read_text(encoding="utf-8"))}


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, and a SIGTERM stops as cleanly
        signal.signal(signum, signal.default_int_handler)
    ports = Ports()
    every = os.environ.get("DEV_PING_EVERY") or None
    every_s = pingsource.parse_every(every) if every else None  # a bad value stops here, before anything runs
    procs: dict[str, subprocess.Popen[bytes]] = {}
    source = None
    stopping = threading.Event()
    try:
        es_url = os.environ.get("ES_URL") or local_es.dev_up()
        source_url = os.environ.get("DATA_SOURCE_URL")
        env = {**os.environ, "ES_URL": es_url, "PYTHONUNBUFFERED": "1"}
        if not source_url:
            demo = os.environ.get("DEV_DEMO") or "cities"
            say(f"[dev] serving the {demo} demo on port {ports.source}, with examples/{demo}/schema.json")
            source = demo_source.serve(ports.source, demo_records(demo))
            source_url = f"http://127.0.0.1:{ports.source}/records"
            env.setdefault("HERMES_SCHEMA", f"file://{ROOT / 'examples' / demo / 'schema.json'}")
        env["DATA_SOURCE_URL"] = source_url
        functions = {"search": ports.search, "full_load": ports.full_load, "delta_load": ports.delta_load}
        for name, port in functions.items():
            procs[name] = start_function(name, port, env)
        for port in functions.values():
            wait_live(f"http://127.0.0.1:{port}", list(procs.values()))
        say(f"[dev] first full load of {source_url}: {full_load(f'http://127.0.0.1:{ports.full_load}/')}")
        ping = pingsource.load("hermes-delta")
        delta_url = f"http://127.0.0.1:{ports.delta_load}/"
        threading.Thread(target=pingsource.run, args=(delta_url, ping, every_s, stopping), daemon=True).start()
        say(banner(ports, source_url, es_url, every, ping))
        exited: dict[str, float] = {}
        while True:  # an edit that does not import makes the reloader exit: start it again after the fix
            time.sleep(1)
            for name, proc in procs.items():
                if proc.poll() is not None and name not in exited:
                    say(f"[dev] {name} exited ({proc.returncode}); it restarts when you save a fix")
                    exited[name] = time.time()
                elif name in exited and newest_source() > exited[name]:
                    del exited[name]
                    procs[name] = start_function(name, functions[name], env)
    except KeyboardInterrupt:
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
            signal.signal(signum, signal.SIG_IGN)
        stopping.set()
        stop(list(procs.values()))
        if source is not None:
            source.shutdown()
        say("[dev] stopped")


if __name__ == "__main__":
    sys.exit(main())
