"""The lean search path, side by side with its baselines in one run.

Three figures, each for the search function as it is ("now") and as it was before the lean path
(``BEFORE_REF``, run from a temporary git worktree whose ``hermes/`` shadows the installed one on
``PYTHONPATH``, as ``bench/features.py`` does):

- cold start: spawn → first 200 on ``/search``, over a bare functions-framework function's spawn → first
  200 (``bench/hello/main.py``), all three alternating;
- CPU per request: user + system CPU of the function's processes (functions-framework's gunicorn and
  its worker) over Elasticsearch's for the same searches, read from ``/proc/<pid>/stat`` around a few
  thousand requests through the function;
- latency added at 1 client: p50 through the function minus p50 of the same ``_search`` body sent
  directly to Elasticsearch, both with the same HTTP client (urllib3, kept-alive connections, answers read
  and not parsed), the function and the direct search taking turns request by request.

Elasticsearch is warmed first (:data:`WARM_BATCHES` batches of direct searches, their cost printed), who goes first
flips at every turn, and each round's CPU ratio and added latency are printed beside the medians.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import urllib3

from bench.checks import expect

BEFORE_REF = "f9b8c50"  # the last commit before the lean search path
# The last commit whose search function still imported pydantic on its cold path (settings, parameters
# and the served schema read by the pydantic models): the step the light readers took, measured beside.
PYDANTIC_REF = "50ca941"
HEADER = "\n## Search: the lean path, now and before\n"
QUERY = "kilo"  # the overhead section's selective term: Elasticsearch's own work stays small
GOALS = {"cold_ratio": 1.5, "cpu_ratio": 0.3, "added_p50_ms": 0.7}
# Functions measured beside the search function, in the same rounds: what the runtime alone costs.
# name: (what it is, whether it searches Elasticsearch)
FLOORS = {
    "bare function": ("`bench/hello/main.py`: answers `ok`, no search", False),
    "pass-through function": (
        "`bench/hello/passthrough.py`: sends the same `_search` body over `http.client` and answers"
        " Elasticsearch's bytes unchanged",
        True,
    ),
}
_TICK = os.sysconf("SC_CLK_TCK")
# Elasticsearch's JIT warms for tens of thousands of searches: on a fresh node, batches of 2,000 direct searches
# cost it 10,385, 6,300, 5,045 ... 2,510, 2,435 µs of CPU per search, the 15th about a quarter of the first,
# then 2,300-3,200 µs per search for 15 batches more (2026-12-07 11:20 UTC), with plateaus on the way down
# (4,125, 4,295, 4,585 µs in a row) that a "three batches alike" rule took for the end. So a fixed
# WARM_BATCHES batches before the first round: every round measures the steady state a serving node runs in.
WARM_BATCH, WARM_BATCHES = 2000, 15

Running = Callable[[Path, dict[str, str]], AbstractContextManager[tuple[str, int]]]  # yields (url, pid)
Hammer = Callable[[Callable[[], None], int, int], tuple[list[float], float]]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of ``pids`` so far (``utime`` and ``stime`` of ``/proc/<pid>/stat``)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), after pid and comm
    return total / _TICK


# What the function's image holds of the repository, byte-compiled by the buildpack (``bench/hello`` is
# the baseline's function source, compiled alike).
IMAGE_SOURCES = ("hermes", "functions", "bench/hello")


def byte_compile(tree: Path) -> None:
    """Byte-compile ``tree``'s function sources as the buildpack does before the image is built
    (GoogleCloudPlatform/buildpacks : cmd/python/functions_framework/lib/lib.go runs
    ``python3 -m compileall -f -q .``; tests/deploy/image.py does the same).

    Without it a cold start under ``PYTHONDONTWRITEBYTECODE=1`` (or on a read-only tree) compiles every
    ``hermes`` module from source on each spawn: ~30 ms of CPU no deployed function pays.
    """
    present = [name for name in IMAGE_SOURCES if (tree / name).exists()]
    subprocess.run([sys.executable, "-m", "compileall", "-f", "-q", *present], cwd=tree, check=True)  # noqa: S603


def cold_starts(
    first_200: Callable[[Path, dict[str, str]], float],
    bare: Callable[[], float],
    sides: dict[str, tuple[Path, dict[str, str]]],
    reps: int,
) -> dict[str, list[float]]:
    """Spawn → first 200 of the bare function and of each side, alternating ``reps`` times."""
    out: dict[str, list[float]] = {"bare": [], **{name: [] for name in sides}}
    for _ in range(reps):
        out["bare"].append(bare())
        for name, (cwd, env) in sides.items():
            out[name].append(first_200(cwd, env))
    return out


def _caller(pool: urllib3.PoolManager, url: str, query: str = QUERY) -> Callable[[], None]:
    def call() -> None:
        status = pool.request("GET", f"{url}/search", fields={"q": query}).status
        expect(status == 200, f"the search function answered {status}")

    return call


def cpu_and_latency(
    running: Running,
    tree_of: Callable[[int], list[int]],
    es_pids: Callable[[], list[int]],
    hammer: Hammer,
    *,
    direct: Callable[[], None],
    sides: dict[str, tuple[Path, dict[str, str]]],
    cpu_clients: int,
    cpu_requests: int,
    p50_requests: int,
    rounds: int,
    queries: dict[str, str] | None = None,
    floors: dict[str, Callable[[], AbstractContextManager[tuple[str, int]]]] | None = None,
    warm_batches: int = WARM_BATCHES,
) -> dict[str, Any]:
    """CPU per request (function over Elasticsearch) and 1-client latency, every side running at once
    (each side searching ``queries[side]``, else :data:`QUERY`).

    ``floors`` start the functions of :data:`FLOORS`, each measured in the same rounds as a side of its own:
    what functions-framework, Flask and gunicorn cost per request with no Hermes in it.
    """
    pool = urllib3.PoolManager(maxsize=cpu_clients * (len(sides) + 2))
    floors = floors or {}
    names = [*sides, *floors]
    cpu: dict[str, dict[str, list[float]]] = {name: {"function": [], "elasticsearch": []} for name in names}
    lat: dict[str, list[float]] = {"direct": [], **{name: [] for name in names}}
    one: dict[str, list[float]] = {name: [] for name in names}  # the function's CPU per request at 1 client
    paired: dict[str, list[float]] = {name: [] for name in names}  # the direct searches taking turns with each
    added: dict[str, list[float]] = {name: [] for name in names}  # each round's added p50
    with ExitStack() as stack:
        started = {name: stack.enter_context(running(cwd, env)) for name, (cwd, env) in sides.items()}
        started.update({name: stack.enter_context(start()) for name, start in floors.items()})
        calls = {name: _caller(pool, url, (queries or {}).get(name, QUERY)) for name, (url, _) in started.items()}
        warm_es = warm_elasticsearch(direct, es_pids, hammer, cpu_clients, warm_batches)
        for call in calls.values():
            hammer(call, cpu_clients, 50)  # warm: connections, caches, the metrics thread
        for _ in range(rounds):
            for name, call in calls.items():
                pids = tree_of(started[name][1])
                fn, es = cpu_seconds(pids), cpu_seconds(es_pids())
                hammer(call, cpu_clients, cpu_requests // cpu_clients)
                cpu[name]["function"].append((cpu_seconds(pids) - fn) / cpu_requests)
                cpu[name]["elasticsearch"].append((cpu_seconds(es_pids()) - es) / cpu_requests)
            for name, call in calls.items():
                tree = tree_of(started[name][1])
                before = cpu_seconds(tree)
                got = interleaved({"direct": direct, name: call}, p50_requests)
                one[name].append((cpu_seconds(tree) - before) / p50_requests)
                lat[name].extend(got[name])
                paired[name].extend(got["direct"])
                added[name].append(statistics.median(got[name]) - statistics.median(got["direct"]))
                lat["direct"].extend(got["direct"])
    return {
        "cpu_s": cpu,
        "latency_s": lat,
        "direct_s": paired,
        "added_s": added,
        "cpu_1_client_s": one,
        "es_warm_s": warm_es,
    }


def warm_elasticsearch(
    direct: Callable[[], None], es_pids: Callable[[], list[int]], hammer: Hammer, clients: int, batches: int
) -> list[float]:
    """Elasticsearch's CPU per direct search of each of ``batches`` warming batches of :data:`WARM_BATCH`."""
    per_search: list[float] = []
    for _ in range(batches):
        before = cpu_seconds(es_pids())
        hammer(direct, clients, WARM_BATCH // clients)
        per_search.append((cpu_seconds(es_pids()) - before) / WARM_BATCH)
    return per_search


def interleaved(calls: dict[str, Callable[[], None]], n: int) -> dict[str, list[float]]:
    """Wall time of each call, ``n`` times each, one client, taking turns request by request: both sides
    see the same machine (a drift of the load, a neighbour's burst) within a few milliseconds. Who goes
    first flips at every turn (A B, B A, ...), so no side always follows the other's request."""
    out: dict[str, list[float]] = {name: [] for name in calls}
    forward = list(calls.items())
    for turn in range(n):
        for name, call in forward if turn % 2 == 0 else forward[::-1]:
            started = time.perf_counter()
            call()
            out[name].append(time.perf_counter() - started)
    return out


def listed(values: list[float], fmt: str) -> str:
    """``values`` formatted with ``fmt``, comma-separated: a table cell of each round's figures."""
    return ", ".join(format(v, fmt) for v in values)


def round_ratios(parts: dict[str, list[float]]) -> list[float]:
    """Each round's function CPU over Elasticsearch's, from one side's ``cpu_s`` entry."""
    return [f / e for f, e in zip(parts["function"], parts["elasticsearch"], strict=True)]


def _warm_md(r: dict[str, Any]) -> str:
    trace = r["es_warm_s"]
    return (
        f"Before the first round, {len(trace) * WARM_BATCH} searches sent directly warmed Elasticsearch (its JIT "
        f"compiler), {len(trace)} batches of {WARM_BATCH} costing it {listed([x * 1e6 for x in trace], '.0f')} "
        "µs of CPU per search: every round measures the steady state a serving node runs in, not a warming one "
        f"(here the last batch cost {trace[-1] / trace[0]:.0%} of the first, and a ratio over a warming node's CPU "
        "rises as it warms)."
    )


def summary(cold: dict[str, list[float]], load: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The three figures per side: cold start ratio, CPU ratio, added p50 (ms)."""
    med = statistics.median
    out: dict[str, dict[str, Any]] = {}
    for name, parts in load["cpu_s"].items():
        if name in FLOORS:
            continue  # see floor_rows
        fn, es = sum(parts["function"]), sum(parts["elasticsearch"])
        out[name] = {
            "cold_s": med(cold[name]),
            "cold_ratio": med(cold[name]) / med(cold["bare"]),
            "fn_cpu_us": fn / len(parts["function"]) * 1e6,
            "es_cpu_us": es / len(parts["elasticsearch"]) * 1e6,
            "cpu_ratio": fn / es,
            "p50_ms": med(load["latency_s"][name]) * 1000,
            "direct_p50_ms": med(load["direct_s"][name]) * 1000,
            "added_p50_ms": (med(load["latency_s"][name]) - med(load["direct_s"][name])) * 1000,
            "cpu_ratio_rounds": round_ratios(parts),
            "added_ms_rounds": [a * 1000 for a in load["added_s"][name]],
        }
    return out


def floor_rows(r: dict[str, Any]) -> str:
    """The floors' figures in the goals' terms (CPU over Elasticsearch's for the same search; 1-client p50 over
    the direct search), as rows of the CPU and latency table."""
    med = statistics.median
    rows = []
    for name in (n for n in FLOORS if n in r["cpu_s"]):
        parts = r["cpu_s"][name]
        fn, es = (
            sum(parts["function"]) / len(parts["function"]),
            sum(parts["elasticsearch"]) / len(parts["elasticsearch"]),
        )
        searched = FLOORS[name][1]  # else Elasticsearch's CPU meanwhile is not this function's doing
        ratio = f"**{fn / es:.2f}×**" if searched else "—"
        each_ratio = f"{listed(round_ratios(parts), '.2f')}×" if searched else "—"
        p50 = med(r["latency_s"][name])
        added = f"**{(p50 - med(r['direct_s'][name])) * 1000:+.2f} ms**" if searched else "—"
        rounds = f"{listed([a * 1000 for a in r['added_s'][name]], '+.2f')} ms" if searched else "—"
        rows.append(
            f"| {name} | {fn * 1e6:.0f} µs | {ratio} | {each_ratio} | {p50 * 1000:.2f} ms | {added} | {rounds} |"
        )
    return "\n".join(rows)


def _floors_md(r: dict[str, Any]) -> str:
    rows = floor_rows(r)
    if not rows:
        return ""
    s = r["summary"]["now"]
    now = (
        f"{s['fn_cpu_us']:.0f} µs | **{s['cpu_ratio']:.2f}×** | "
        f"{listed(s['cpu_ratio_rounds'], '.2f')}× | {s['p50_ms']:.2f} ms | "
        f"**{s['added_p50_ms']:+.2f} ms** | {listed(s['added_ms_rounds'], '+.2f')} ms"
    )
    what = "\n".join(f"- {name}: {text}." for name, (text, _) in FLOORS.items())
    return f"""
**The runtime's own floor**: the contract starts every function the same way (functions-framework, its
gunicorn gthread worker, Flask), so two functions with no Hermes in them ran in the same rounds as the sides
above, measured the same way:
{what}

| | function CPU per request | over Elasticsearch's | each round's | p50 at 1 client | added | each round's added |
|---|---|---|---|---|---|---|
| search function ("now") | {now} |
{rows}
"""


def markdown(r: dict[str, Any]) -> str:
    """The section of docs/benchmarks.md."""
    s, cold = r["summary"], r["cold_s"]
    before, now, with_pydantic = s["before"], s["now"], s["with pydantic"]
    med = statistics.median
    bare = med(cold["bare"])

    def row(label: str, key: str, fmt: str, goal: str) -> str:
        cells = f"{format(before[key], fmt)} | {format(with_pydantic[key], fmt)} | **{format(now[key], fmt)}**"
        return f"| {label} | {cells} | {goal} |"

    cold_rows = "\n".join(
        f"| {name} | {med(v):.3f} s | {med(v) / bare:.2f}× | {listed(v, '.3f')} s |" for name, v in cold.items()
    )
    cpu_rows = "\n".join(
        f"| {name} | {v['fn_cpu_us']:.0f} µs | {v['es_cpu_us']:.0f} µs | **{v['cpu_ratio']:.2f}×** | "
        f"{listed(v['cpu_ratio_rounds'], '.2f')}× |"
        for name, v in s.items()
    )
    direct_p50 = med(r["latency_s"]["direct"]) * 1000
    lat_rows = "\n".join(
        f"| {name} | {v['p50_ms']:.2f} ms | {v['direct_p50_ms']:.2f} ms | **{v['added_p50_ms']:+.2f} ms** | "
        f"{listed(v['added_ms_rounds'], '+.2f')} ms |"
        for name, v in s.items()
    )
    return f"""{HEADER}
The search function as it is ("now"), as it was before the lean path ("before": commit
`{r["before_ref"]}`) and as it was while pydantic still read its settings, parameters and served schema on
the cold path ("with pydantic": commit `{r["pydantic_ref"]}`), each older one run from a git worktree of
its commit, on the same Elasticsearch and index (`{r["index"]}`) in the same run. Figures are medians;
ratios are the goals' terms.

| figure | before | with pydantic | now | goal |
|---|---|---|---|---|
{row("cold start over a bare function", "cold_ratio", ".2f", f"≤ {GOALS['cold_ratio']}×")}
{row("function CPU over Elasticsearch CPU, per search", "cpu_ratio", ".2f", f"≤ {GOALS['cpu_ratio']}×")}
{row("p50 latency added at 1 client (ms)", "added_p50_ms", "+.2f", f"≤ {GOALS['added_p50_ms']} ms")}

**Cold start**: spawn → first `200` on `/search?q=alpha`, against `bench/hello/main.py` to its first
`200`, {len(cold["bare"])} alternating repetitions; every tree byte-compiled first, as the buildpack compiles the
image's sources (`compileall`), so no side compiles `hermes` from source at each spawn{_from_source_note(cold)}.

| | median | over bare | runs |
|---|---|---|---|
{cold_rows}

**CPU per request**: user + system CPU from `/proc/<pid>/stat` of the function's processes
(functions-framework's gunicorn and its worker) and of Elasticsearch, read before and after
{r["cpu_requests"]} requests of `/search?q={QUERY}` from {r["cpu_clients"]} concurrent clients, {r["rounds"]}
alternating rounds per side (the benchmark's own client threads are not counted). {_warm_md(r)}

| | function per request | Elasticsearch per request | ratio | each round's ratio |
|---|---|---|---|---|
{cpu_rows}

**Latency added at 1 client**: p50 of `/search?q={QUERY}` through the function minus p50 of the same
`_search` body sent directly to Elasticsearch (all direct searches: {direct_p50:.2f} ms), {r["p50_requests"]}
requests per side and round. Both with the same HTTP client (urllib3, kept-alive connections, each answer read
whole and not parsed), each function taking turns with the direct search request by request (who goes first
flipping at each turn), and its added
latency taken over the direct searches of its own turns: a change of load on the shared 2 cores falls on both
alike instead of on whichever ran then, and between two requests of a function only Elasticsearch and the
benchmark run, as when its requests came in one block.

| | p50 | direct p50, its turns | added | each round's added |
|---|---|---|---|---|
{lat_rows}
{_floors_md(r)}
{_layers_md(r, now)}
What changed, and what each step was worth while developing: see "Where the search path's time goes" below
the cold-start section.
"""


def _from_source_note(cold: dict[str, list[float]]) -> str:
    if "now, from source" not in cold:
        return ""
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return (
            ' ("now, from source": this commit never compiled, under this run\'s `PYTHONDONTWRITEBYTECODE`, as'
            " every side ran before the benchmark compiled them)"
        )
    return ' ("now, from source": this commit, compiled by its own first spawn only)'


def _layers_md(r: dict[str, Any], now: dict[str, float]) -> str:
    """Where the function's CPU goes at 1 client (``bench/layers.py``), if measured."""
    if "layers" not in r or not r.get("cpu_1_client_s", {}).get("now"):
        return ""
    us = r["layers"]["us"]
    http = statistics.median(r["cpu_1_client_s"]["now"]) * 1e6
    steps = [
        ("the Elasticsearch client (`elastic_transport` over `hermes.node`, orjson)", us["transport"], us["transport"]),
        ("+ Hermes' handler (parameters, query, answer)", us["handler"], us["handler"] - us["transport"]),
        ("+ functions-framework and Flask (WSGI call)", us["framework"], us["framework"] - us["handler"]),
        ("+ gunicorn's gthread worker and the kernel (through HTTP, 1 client)", http, http - us["framework"]),
    ]
    rows = "\n".join(
        f"| {label} | {total:.0f} µs | **{part:.0f} µs** ({part / http:.0%}) |" for label, total, part in steps
    )
    return f"""
**Where the function's CPU goes** ("now", 1 client): the same search through ever more of the function's
stack, in one process against the same Elasticsearch (`bench/layers.py`, {len(r["layers"]["runs_us"]["transport"])}
alternating rounds), and through HTTP (the function's processes' CPU around the 1-client latency runs above).
Elasticsearch itself spent {now["es_cpu_us"]:.0f} µs per search (4 clients, above).

| layers | CPU per search | this layer |
|---|---|---|
{rows}
{_urllib3_note(us)}"""


def _urllib3_note(us: dict[str, float]) -> str:
    """The client's row again with elastic_transport's urllib3 node (what the function used before its own)."""
    if "transport_urllib3" not in us:
        return ""
    old, new = us["transport_urllib3"], us["transport"]
    return (
        f"\nThe same client over elastic_transport's own urllib3 node, in the same rounds: {old:.0f} µs per search"
        f" (`hermes.node` over `http.client`: {old - new:.0f} µs less).\n"
    )
