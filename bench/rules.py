"""What relevance rules cost a search: today's query, the same with 100 rules loaded, side by side.

Three aliases over the one bench index, each with its own rules index (``<alias>.hermes-rules``, filled
with ``hermes.operator.rules.import_rules``, the code behind ``python -m hermes rules import``):

- **no rules**: the search as it is without any rule;
- **100 rules, none for q**: 40 two-way synonym groups, 30 one-way synonyms and 30 curations, none of
  which matches the benchmark's query: the cost every search pays once rules exist (reading them once per
  ``HERMES_RULES_REFRESH_S``, matching the query against them);
- **100 rules, a synonym and a pin for q**: the same, with one synonym group and one curation for the
  query itself: what a search costs when rules fire (one more text query for Elasticsearch, the pins).

CPU per search is the user + system CPU of the function's processes and of Elasticsearch
(``bench.lean.cpu_and_latency``: ``/proc/<pid>/stat`` around thousands of searches, the sides alternating).
Goal: at most 10 % more CPU per search (function + Elasticsearch) with 100 rules loaded.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import lean
from bench.checks import expect
from hermes.operator.rules import import_rules

HEADER = "## Search: the cost of relevance rules\n"
QUERY = lean.QUERY
GOAL = 1.10
SIDES = (
    "no rules",
    "100 rules, none for q",
    "100 rules, a synonym and a pin for q",
    "no rules, q with a phrase and an exclusion",
)
# The query syntax's price: the same selective word as a phrase, and a word excluded (CONTRACT § The search
# function), against the plain word of the first row.
SYNTAX_QUERY = f'"{QUERY}" -lima'


def rule_file(*, firing: bool) -> dict[str, Any]:
    """100 rules; with ``firing``, one synonym group and one curation are for QUERY."""
    rules: list[dict[str, Any]] = []
    for i in range(40):
        rules.append({"id": f"group-{i}", "type": "synonyms", "terms": [f"gadget{i}", f"gizmo{i}", f"widget{i}"]})
    for i in range(30):
        rules.append({"id": f"one-way-{i}", "type": "one_way", "from": f"sofa{i}", "to": [f"couch{i}"]})
    for i in range(30):
        pin, hide = [f"b{i}", f"b{i + 100}"], [f"b{i + 200}"]
        rules.append({"id": f"curate-{i}", "type": "curate", "query": f"campaign {i}", "pin": pin, "hide": hide})
    if firing:
        rules[0] = {"id": "group-0", "type": "synonyms", "terms": [QUERY, "lima"]}
        rules[-1] = {"id": "curate-29", "type": "curate", "query": QUERY, "pin": ["b7", "b8"], "hide": ["b9"]}
    return {"rules": rules}


def prepare(client: Any, index_alias: str) -> dict[str, str]:
    """The aliases of each side over ``index_alias``'s index, with their rules loaded."""
    index = next(iter(client.indices.get_alias(name=index_alias)))
    names = {SIDES[0]: index_alias, SIDES[1]: f"{index_alias}-rules-idle", SIDES[2]: f"{index_alias}-rules-firing"}
    names[SIDES[3]] = f"{index_alias}-syntax"
    client.indices.update_aliases(actions=[{"add": {"index": index, "alias": names[s]}} for s in SIDES[1:]])
    for side, firing in ((SIDES[1], False), (SIDES[2], True)):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(rule_file(firing=firing), f)
            f.flush()
            report = import_rules(client, f"{names[side]}.hermes-rules", f.name, replace=True)
        expect(report["rules"] == 100, f"the rules of {side} did not load: {report}")
    return names


def measure(
    names: dict[str, str],
    es_url: str,
    *,
    running: lean.Running,
    tree_of: Callable[[int], list[int]],
    es_pids: Callable[[], list[int]],
    hammer: lean.Hammer,
    direct: Callable[[], None],
    cpu_requests: int,
    p50_requests: int,
    rounds: int,
    warm_batches: int = lean.WARM_BATCHES,
) -> dict[str, Any]:
    """CPU per search and p50 of each side, every side running at once (``bench.lean.cpu_and_latency``)."""
    root = Path(__file__).resolve().parent.parent
    sides = {side: (root, {"ES_URL": es_url, "ES_INDEX": names[side]}) for side in SIDES}
    load = lean.cpu_and_latency(
        running,
        tree_of,
        es_pids,
        hammer,
        direct=direct,
        sides=sides,
        cpu_clients=4,
        cpu_requests=cpu_requests,
        p50_requests=p50_requests,
        rounds=rounds,
        queries={SIDES[3]: SYNTAX_QUERY},
        warm_batches=warm_batches,
    )
    return {**load, "cpu_requests": cpu_requests, "p50_requests": p50_requests, "rounds": rounds, "clients": 4}


def summary(r: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per side: function and Elasticsearch CPU per search (µs), their sum, its ratio to no rules, p50."""
    out: dict[str, dict[str, float]] = {}
    for side, parts in r["cpu_s"].items():
        fn = sum(parts["function"]) / len(parts["function"]) * 1e6
        es = sum(parts["elasticsearch"]) / len(parts["elasticsearch"]) * 1e6
        out[side] = {
            "fn_us": fn,
            "es_us": es,
            "total_us": fn + es,
            "p50_ms": statistics.median(r["latency_s"][side]) * 1000,
        }
    base = out[SIDES[0]]
    for v in out.values():
        v["ratio"] = v["total_us"] / base["total_us"]
        v["fn_ratio"] = v["fn_us"] / base["fn_us"]
    return out


def markdown(r: dict[str, Any], rerun: str = "") -> str:
    """The section of docs/benchmarks.md."""
    s = summary(r)
    rows = "\n".join(
        f"| {side} | {v['fn_us']:.0f} µs | {v['es_us']:.0f} µs | {v['total_us']:.0f} µs | "
        f"**{v['ratio']:.2f}×** | {v['fn_ratio']:.2f}× | {v['p50_ms']:.2f} ms |"
        for side, v in s.items()
    )
    idle = s[SIDES[1]]["ratio"]
    noise = abs(s[SIDES[1]]["es_us"] / s[SIDES[0]]["es_us"] - 1) * 100
    verdict = "met" if idle <= GOAL else "not met"
    return f"""{HEADER}{rerun}
The same search, `/search?q={QUERY}`, through search functions running at once over the same index:
without rules; with 100 rules loaded (40 two-way synonym groups, 30 one-way synonyms, 30 curations with
pins and hides), none of them for `{QUERY}`; and with the same 100 rules where one synonym group
(`{QUERY}` ↔ `lima`) and one curation (two pins, one hide) are for `{QUERY}`. Rules are read every
`HERMES_RULES_REFRESH_S` (default 10 s) and matched in memory. CPU per search: user + system CPU of the
function's processes and of Elasticsearch from `/proc/<pid>/stat`, around {r["cpu_requests"]} searches from
{r["clients"]} clients per side and round, {r["rounds"]} alternating rounds, after
{len(r["es_warm_s"]) * lean.WARM_BATCH} searches sent directly had warmed Elasticsearch (as in the lean section);
p50 at 1 client, {r["p50_requests"]} searches per side and round, each side taking turns with a direct search.
Goal: with 100 rules loaded, at most {GOAL:.2f}× the CPU per search (function + Elasticsearch) of no rules:
**{verdict}** ({idle:.2f}×).

| side | function CPU | Elasticsearch CPU | both | over no rules | function over no rules | p50 |
|---|---|---|---|---|---|---|
{rows}

The first two rows send Elasticsearch the very same body, so the gap between their Elasticsearch CPU ({noise:.0f} %)
is this shared machine's noise, not a cost of rules; the function's own CPU is the figure rules can move
({s[SIDES[1]]["fn_ratio"]:.2f}× here). When a synonym fires, Elasticsearch runs one more typo-tolerant text
query per variant and matches the documents of both words (here `{QUERY}` or `lima`: about twice the hits),
so that row is the price of the rule's effect, not of having rules. The last row is the query syntax's price
with no rules: `/search?q={SYNTAX_QUERY}` (the word as a phrase, with no typos, and documents holding `lima`
excluded) against the plain `{QUERY}` of the first row{_syntax_verdict(s)}.
"""


def _syntax_verdict(s: dict[str, dict[str, float]]) -> str:
    if SIDES[3] not in s:
        return ""
    v = s[SIDES[3]]
    return f": {v['ratio']:.2f}× the CPU per search (function {v['fn_ratio']:.2f}×)"


def replace_section(doc: str, section: str, before: str) -> str:
    """``doc`` with this section replaced, or inserted before the heading ``before`` (else at the end)."""
    if HEADER in doc:
        head, _, rest = doc.partition(HEADER)
        tail = rest[rest.index("\n## ") + 1 :] if "\n## " in rest else ""
        return head + section + ("\n" + tail if tail else "")
    if before in doc:
        head, _, rest = doc.partition(before)
        return head + "\n" + section + before + rest
    return doc + "\n" + section
