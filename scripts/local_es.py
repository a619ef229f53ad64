"""Provision a real, local Elasticsearch with no Docker: fetch, start, wait, stop.

Elasticsearch's ``integ-test-zip`` distribution is published on Maven Central, so
``mvn dependency:copy`` fetches it with the machine's ordinary Maven set-up. The zip
is cached outside the repository and unpacked once. Each server runs on loopback on
a free port, single-node, with a small heap, as a non-root user (Elasticsearch
refuses to run as root; when we are root we create a system user for it).

Used by the test session fixture, by ``make es-up``/``make dev`` and by CI::

    python -m scripts.local_es fetch      # download + unpack only
    python -m scripts.local_es up         # start the dev server, print its URL
    python -m scripts.local_es url        # print the dev server's URL if it runs
    python -m scripts.local_es down       # stop the dev server
    python -m scripts.local_es java       # print the JDK it would run the server with

``HERMES_ES_VERSION`` picks the version (default below); each major gets a JDK it supports
(:func:`java_home`), so one machine runs the whole version matrix (``make test-matrix``).

Standard library only, so it can run before the virtualenv exists.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

DEFAULT_ES_VERSION = "8.19.21"
# Where JDKs live besides JAVA_HOME and PATH: Debian's packages and hand-installed ones (Temurin).
JDK_ROOTS = (Path("/usr/lib/jvm"), Path("/opt"))
ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{v}:zip"
ES_USER = "hermes-es"
HEAP = os.environ.get("HERMES_ES_HEAP", "512m")
# For a server that lives one test session: the JVM's first-tier compiler only. C2's optimising compiles
# are CPU a session of a minute or two never earns back on 2 cores. Measured side by side (05:25 UTC,
# 2026-12-07, four integration modules, 76 tests, 4 workers): start 8.2 s -> 6.1 s, the server's CPU during
# the tests 45.7 s -> 28.1 s, the tests 36.7 s -> 29.1 s. Flags, not behaviour: the same server and settings.
SHORT_RUN_JVM = ("-XX:TieredStopAtLevel=1",)


def cache_dir() -> Path:
    """Where downloads and unpacked servers live (outside the repo, world-readable)."""
    if env := os.environ.get("HERMES_CACHE_DIR"):
        return Path(env)
    if os.geteuid() == 0:
        # root's home is 0700: the unprivileged ES user could not read it.
        return Path("/var/cache/hermes")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hermes"


def _log(msg: str) -> None:
    sys.stderr.write(f"[local_es] {msg}\n")


def es_version() -> str:
    """The Elasticsearch version to fetch and run: ``HERMES_ES_VERSION``, else the default.

    Read at each call, not at import: the matrix sets it per run.
    """
    return os.environ.get("HERMES_ES_VERSION") or DEFAULT_ES_VERSION


def java_floor(version: str) -> int:
    """The oldest Java this Elasticsearch runs on: 17 for 8.x, 21 for 9.x (Elastic's support matrix)."""
    return 21 if int(version.split(".", 1)[0]) >= 9 else 17


def java_major(home: Path) -> int | None:
    """The feature version of the JDK at ``home``, read from its ``release`` file (None: not a JDK)."""
    try:
        release = (home / "release").read_text()
    except OSError:
        return None
    found = re.search(r'^JAVA_VERSION="(?:1\.)?(\d+)', release, re.MULTILINE)
    return int(found.group(1)) if found else None


def _java_candidates() -> Iterator[Path]:
    """JDK homes to choose from: HERMES_JAVA_HOMES, JAVA_HOME, `java` on PATH, then the usual roots."""
    for entry in os.environ.get("HERMES_JAVA_HOMES", "").split(os.pathsep):
        if entry:
            yield Path(entry)
    if home := os.environ.get("JAVA_HOME"):
        yield Path(home)
    if java := shutil.which("java"):
        yield Path(java).resolve().parent.parent
    for root in JDK_ROOTS:
        if root.is_dir():
            yield from sorted(p for p in root.iterdir() if (p / "bin" / "java").exists())


def java_home(version: str | None = None) -> str:
    """The JDK to run this Elasticsearch version with.

    ``ES_JAVA_HOME`` if set (checked against the version's floor); otherwise the *oldest* JDK found
    that meets the floor: Java 17 for 8.x, 21+ for 9.x. Oldest, because each release is built for
    the Java of its day: Elasticsearch 8.11 predates Java 24, which dropped the Security Manager it
    installs at start-up.
    """
    version = version or es_version()
    floor = java_floor(version)
    if given := os.environ.get("ES_JAVA_HOME"):
        major = java_major(Path(given))
        if major is not None and major < floor:
            msg = f"ES_JAVA_HOME={given} is Java {major}; Elasticsearch {version} needs Java {floor}+"
            raise SystemExit(msg)
        return given
    found: dict[str, int] = {}  # in the order found: the first of equal majors wins
    for home in _java_candidates():
        if (major := java_major(home)) is not None:
            found.setdefault(str(home.resolve()), major)
    eligible = sorted((major, i, home) for i, (home, major) in enumerate(found.items()) if major >= floor)
    if not eligible:
        seen = ", ".join(f"{home} (Java {major})" for home, major in found.items()) or "none"
        msg = (
            f"Elasticsearch {version} needs Java {floor}+; JDKs found: {seen}. "
            "Install one, or name it in HERMES_JAVA_HOMES or ES_JAVA_HOME"
        )
        raise SystemExit(msg)
    return eligible[0][2]


def fetch(version: str | None = None) -> Path:
    """Download (once) and unpack (once) the distribution; return its home."""
    version = version or es_version()
    root = cache_dir()
    home = root / f"elasticsearch-{version}"
    if (home / "bin" / "elasticsearch").exists():
        return home
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    zip_path = root / "dl" / f"elasticsearch-{version}.zip"
    if not zip_path.exists():
        _log(f"fetching Elasticsearch {version} with Maven (cached in {root})")
        subprocess.run(  # noqa: S603 - fixed argv, no shell
            [  # noqa: S607 - mvn from PATH, as documented
                "mvn",
                "-B",
                "-q",
                "dependency:copy",
                f"-Dartifact={ARTIFACT.format(v=version)}",
                f"-DoutputDirectory={zip_path.parent}",
            ],
            check=True,
        )
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".unpack-"))
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(staging)
    for path in staging.rglob("*"):
        if path.is_file() and path.parent.name == "bin":
            path.chmod(0o755)
    (staging / f"elasticsearch-{version}").rename(home)
    staging.rmdir()
    subprocess.run(["chmod", "-R", "a+rX", str(home)], check=True)  # noqa: S603, S607 - coreutils
    return home


def ensure_user() -> str | None:
    """The user ES runs as: ourselves, or a created system user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(ES_USER)
    except KeyError:
        _log(f"creating system user {ES_USER} (Elasticsearch refuses to run as root)")
        subprocess.run(  # noqa: S603
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_USER],  # noqa: S607
            check=True,
        )
    return ES_USER


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running local Elasticsearch."""

    url: str
    pid: int
    run_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    console: IO[bytes] | None = None

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        _signal_group(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(self.pid):
            time.sleep(0.2)
        if _alive(self.pid):
            _signal_group(self.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=timeout)
        if self.console is not None:
            self.console.close()

    def kill(self) -> None:
        """SIGKILL the server at once, as a crashed node or an OOM-killed pod ends (data kept on disk)."""
        _signal_group(self.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)
        if self.console is not None:
            self.console.close()

    def wait_ready(self, wait_s: float = 120, status: str = "yellow") -> None:
        """Return once the cluster answers with at least ``status``; raise if the process exits first."""
        _wait_ready(self, self.proc, wait_s, status)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists": reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _prepare_run_dir(home: Path, run_dir: Path, user: str | None) -> None:
    for sub in ("data", "logs", "tmp"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    if not (run_dir / "config").exists():
        shutil.copytree(home / "config", run_dir / "config")
        # Older releases (8.11) log GC to `logs/gc.log` relative to the shared, root-owned ES_HOME, and the
        # JVM will not start when it cannot open it; later releases put `gc.log` under path.logs.
        options = run_dir / "config" / "jvm.options"
        options.write_text(options.read_text().replace("file=logs/gc.log", f"file={run_dir / 'logs' / 'gc.log'}"))
    if user:
        subprocess.run(["chown", "-R", f"{user}:", str(run_dir)], check=True)  # noqa: S603, S607


def start(
    run_dir: Path,
    port: int | None = None,
    wait_s: float = 120,
    version: str | None = None,
    settings: dict[str, str | None] | None = None,
    *,
    jvm: tuple[str, ...] = (),
) -> Server:
    """Start a single-node server of ``version`` (default :func:`es_version`) on loopback; return once it answers.

    ``settings`` are added to (or, given as None, removed from) the node settings below; ``jvm``: more JVM
    options (:data:`SHORT_RUN_JVM`).
    """
    server = launch(run_dir, port, version, settings, jvm=jvm)
    try:
        server.wait_ready(wait_s)
    except BaseException:
        server.stop()
        raise
    return server


def launch(
    run_dir: Path,
    port: int | None = None,
    version: str | None = None,
    settings: dict[str, str | None] | None = None,
    *,
    jvm: tuple[str, ...] = (),
) -> Server:
    """Start a server without waiting for it (the nodes of a cluster wait for each other)."""
    version = version or es_version()
    home = fetch(version)
    user = ensure_user()
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o755)
    _prepare_run_dir(home, run_dir, user)
    port = port or free_port()
    node = {
        "cluster.name": f"hermes-{port}",
        "node.name": "hermes-local",
        "discovery.type": "single-node",
        "network.host": "127.0.0.1",
        "http.port": str(port),
        "transport.port": str(free_port()),
        "path.data": str(run_dir / "data"),
        "path.logs": str(run_dir / "logs"),
        "xpack.security.enabled": "false",
        # Shared CI disks can be nearly full: never flip indices to read-only here.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
    }
    for key, value in (settings or {}).items():
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    (run_dir / "node.json").write_text(json.dumps(settings or {}))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ES_", "JAVA_"))},
        "ES_JAVA_HOME": java_home(version),
        "ES_PATH_CONF": str(run_dir / "config"),
        "ES_TMPDIR": str(run_dir / "tmp"),
        "ES_JAVA_OPTS": " ".join((f"-Xms{HEAP}", f"-Xmx{HEAP}", *jvm)),
    }
    argv = [str(home / "bin" / "elasticsearch"), "-q", *(f"-E{k}={v}" for k, v in node.items())]
    out = (run_dir / "logs" / "console.log").open("ab")
    proc = subprocess.Popen(  # noqa: S603
        argv,
        env=env,
        cwd=run_dir,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        user=user,
    )
    return Server(f"http://127.0.0.1:{port}", proc.pid, run_dir, proc, out)


def cluster_settings(name: str, transports: list[int]) -> list[dict[str, str | None]]:
    """Node settings of a cluster on loopback: one entry per transport port, every node master-eligible."""
    names = [f"{name}-{i}" for i in range(len(transports))]
    seeds = ",".join(f"127.0.0.1:{port}" for port in transports)
    return [
        {
            "cluster.name": name,
            "node.name": node,
            "transport.port": str(port),
            "discovery.type": None,
            "discovery.seed_hosts": seeds,
            "cluster.initial_master_nodes": ",".join(names),
        }
        for node, port in zip(names, transports, strict=True)
    ]


def start_cluster(root: Path, nodes: int = 3, wait_s: float = 180, version: str | None = None) -> list[Server]:
    """Start ``nodes`` processes of the same distribution as one cluster on loopback; return once it is green.

    Each node keeps its data in ``root/node-<i>``: :func:`restart_node` brings a killed one back as it was.
    """
    transports = [free_port() for _ in range(nodes)]
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # the unprivileged Elasticsearch user reaches each node's directory through it
    servers: list[Server] = []
    try:
        for i, node in enumerate(cluster_settings(f"hermes-{transports[0]}", transports)):
            servers.append(launch(root / f"node-{i}", version=version, settings=node))
        for server in servers:
            server.wait_ready(wait_s, "green")
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def restart(old: Server, wait_s: float = 120, version: str | None = None) -> Server:
    """Start a stopped or killed server again on its port, data and settings; return once it answers."""
    recorded = json.loads((old.run_dir / "node.json").read_text())
    return start(old.run_dir, int(old.url.rsplit(":", 1)[1]), wait_s, version, recorded)


def _wait_ready(server: Server, proc: subprocess.Popen[bytes] | None, wait_s: float, status: str = "yellow") -> None:
    deadline = time.monotonic() + wait_s
    health = f"{server.url}/_cluster/health?wait_for_status={status}&timeout=1s"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = (server.run_dir / "logs" / "console.log").read_text(errors="replace")[-3000:]
            msg = f"Elasticsearch exited with {proc.returncode}:\n{tail}"
            raise RuntimeError(msg)
        try:
            with urllib.request.urlopen(health, timeout=2) as resp:  # noqa: S310 - loopback URL we built
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    msg = f"Elasticsearch did not become ready within {wait_s:.0f}s (logs in {server.run_dir}/logs)"
    raise TimeoutError(msg)


def _local_node(url: str, fields: str) -> dict[str, Any]:
    query = f"{url}/_nodes/_local?filter_path={fields}"
    with urllib.request.urlopen(query, timeout=5) as resp:  # noqa: S310
        return dict(next(iter(json.load(resp)["nodes"].values())))


def server_version(url: str) -> str:
    """The node's version (the integ-test-zip has no ``GET /`` handler: ask the nodes API)."""
    return str(_local_node(url, "nodes.*.version")["version"])


def server_java(url: str) -> str:
    """The Java the node runs on, as it reports it (``Eclipse Adoptium 25.0.3``)."""
    jvm = _local_node(url, "nodes.*.jvm.version,nodes.*.jvm.vm_vendor")["jvm"]
    return f"{jvm['vm_vendor']} {jvm['version']}"


# --- the dev server used by `make es-up` / `make dev` -------------------------------------------


def _dev_state() -> Path:
    return cache_dir() / "dev" / "server.json"


def dev_url() -> str | None:
    """URL of the running dev server, or None."""
    state = _dev_state()
    if not state.exists():
        return None
    info = json.loads(state.read_text())
    if not _alive(info["pid"]):
        return None
    try:
        server_version(info["url"])
    except OSError:
        return None
    return str(info["url"])


def dev_up() -> str:
    if url := dev_url():
        return url
    run_dir = cache_dir() / "dev"
    server = start(run_dir, port=int(os.environ.get("HERMES_ES_PORT", "9200")))
    _dev_state().write_text(json.dumps({"url": server.url, "pid": server.pid}))
    return server.url


def dev_down() -> None:
    state = _dev_state()
    if state.exists():
        info = json.loads(state.read_text())
        Server(info["url"], info["pid"], state.parent).stop()
        state.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["fetch", "up", "down", "url", "version", "java"])
    args = parser.parse_args(argv)
    out = sys.stdout
    if args.command == "fetch":
        out.write(f"{fetch()}\n")
    elif args.command == "up":
        url = dev_up()
        _log(f"Elasticsearch {server_version(url)} at {url}")
        out.write(f"{url}\n")
    elif args.command == "down":
        dev_down()
    elif args.command == "url":
        running = dev_url()
        if not running:
            return 1
        out.write(f"{running}\n")
    elif args.command == "java":
        out.write(f"{java_home()}\n")
    else:
        out.write(f"{es_version()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
