"""What declared fields and search analytics cost the search function.

Side by side in one run, on the same Elasticsearch and data:
- **before**: the search function as it was before them (``BEFORE_REF``, checked out into a temporary
  git worktree and run from there: its own ``hermes/`` shadows the installed one on ``PYTHONPATH``);
- **now**: today's function on an index built without a schema;
- **now + analytics**: the same, with ``HERMES_ANALYTICS=true`` (the recorder thread writing to
  Elasticsearch while the searches run);
- **now + schema**: an index built with a declared field (``source_rank``: a number filtered, faceted and
  sorted), so every search also fetches the served schema and aggregates one more facet.

Cold start (spawn → first 200 on /search) for before/now/now+schema, and p50 latency and throughput at 4
concurrent clients for all four, in alternating rounds so each side sees the same machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import urllib3

from bench.checks import expect

ROOT = Path(__file__).resolve().parent.parent
BEFORE_REF = "5b1d40d"  # the last commit before their first change ("did you mean")
SCHEMA = '{"fields": {"source_rank": {"type": "number", "filter": true, "facet": true, "sort": true}}}'
QUERY = "kilo"


@contextmanager
def before_tree(ref: str = BEFORE_REF) -> Iterator[Path]:
    """The repository at ``ref``, in a temporary worktree."""
    path = Path(tempfile.mkdtemp(prefix="hermes-before-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(path), ref], cwd=ROOT, check=True)  # noqa: S603, S607
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)  # noqa: S603, S607


def sides(es_url: str, plain: str, schema_index: str, tree: Path) -> dict[str, tuple[Path, dict[str, str]]]:
    """Each side: the directory the function runs from, and its environment."""
    base = {"ES_URL": es_url, "ES_INDEX": plain}
    return {
        "before": (tree, {**base, "PYTHONPATH": str(tree)}),
        "now": (ROOT, base),
        "now + analytics": (ROOT, {**base, "HERMES_ANALYTICS": "true"}),
        "now + schema": (ROOT, {**base, "ES_INDEX": schema_index}),
    }


def cold_starts(
    first_200: Callable[[Path, dict[str, str]], float], chosen: dict[str, tuple[Path, dict[str, str]]], reps: int
) -> dict[str, list[float]]:
    """Spawn → first 200, alternating the sides ``reps`` times."""
    out: dict[str, list[float]] = {name: [] for name in chosen}
    for _ in range(reps):
        for name, (cwd, env) in chosen.items():
            out[name].append(first_200(cwd, env))
    return out


def throughput(
    running: Callable[[Path, dict[str, str]], Any],
    hammer: Callable[[Callable[[], None], int, int], tuple[list[float], float]],
    chosen: dict[str, tuple[Path, dict[str, str]]],
    *,
    clients: int,
    per_client: int,
    rounds: int,
) -> dict[str, dict[str, list[float]]]:
    """Latencies and rates of each side at ``clients`` concurrent clients, alternating rounds."""
    pool = urllib3.PoolManager(maxsize=clients * len(chosen))
    with ExitStack() as stack:
        urls = {name: stack.enter_context(running(cwd, env)) for name, (cwd, env) in chosen.items()}
        calls = {name: _caller(pool, url) for name, url in urls.items()}
        for call in calls.values():
            hammer(call, clients, 20)  # warm
        lat: dict[str, list[float]] = {name: [] for name in calls}
        rps: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(rounds):
            for name, call in calls.items():
                got, rate = hammer(call, clients, per_client)
                lat[name].extend(got)
                rps[name].append(rate)
    return {"latency_s": lat, "rps": rps}


def _caller(pool: urllib3.PoolManager, url: str) -> Callable[[], None]:
    def call() -> None:
        expect(pool.request("GET", f"{url}/search?q={QUERY}").status == 200, "a search failed")

    return call


def python_path_check(tree: Path) -> str:
    """Where the before side's ``hermes`` comes from (must be the worktree)."""
    argv = [sys.executable, "-c", "import hermes; print(hermes.__file__)"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    return out.stdout.strip()
