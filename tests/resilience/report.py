"""docs/resilience.md from the scenarios' outcomes: a verdict per scenario, with what it measured."""

from __future__ import annotations

import inspect
import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

VERDICTS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


@dataclass
class Scenario:
    """One test of tests/resilience as the report shows it."""

    nodeid: str
    group: str
    title: str
    claim: str
    outcome: str = "passed"
    seconds: float = 0.0
    evidence: list[str] = field(default_factory=list)
    failure: str | None = None

    @classmethod
    def of(cls, item: Any) -> Scenario:
        module_doc = inspect.getdoc(item.module) or item.module.__name__
        doc = inspect.getdoc(getattr(item, "function", None)) or item.name
        title, _, claim = doc.partition("\n\n")
        title = title.replace("\n", " ")
        if callspec := getattr(item, "callspec", None):  # a parametrized scenario: say which case
            title = f"{title}: {', '.join(str(v) for v in callspec.params.values())}"
        return cls(item.nodeid, module_doc.splitlines()[0], title, claim.replace("\n", " "))

    def add(self, rep: Any, evidence: list[str]) -> None:
        """Fold one phase (setup, call, teardown) in: any failure fails the scenario, a skip skips it."""
        self.seconds += rep.duration
        self.evidence = evidence
        if rep.failed:
            self.outcome = "failed"
            self.failure = self.failure or _first_lines(str(rep.longrepr))
        elif rep.skipped and self.outcome != "failed":
            self.outcome = "skipped"
            self.failure = _skip_reason(rep.longrepr)


def _first_lines(text: str, n: int = 6) -> str:
    """The assertion or error lines of a failure, not the whole traceback."""
    lines = [line for line in text.splitlines() if line.startswith("E ")] or text.splitlines()[-n:]
    return "\n".join(line[2:].strip() if line.startswith("E ") else line for line in lines[:n])


def _skip_reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def render(scenarios: list[Scenario], *, command: str, es_version: str, seconds: float, full: bool) -> str:
    """The whole report, in Markdown."""
    passed = sum(s.outcome == "passed" for s in scenarios)
    failed = sum(s.outcome == "failed" for s in scenarios)
    lines = [
        "# Resilience: real faults, real processes",
        "",
        f"Produced by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        f" ({'full' if full else 'fast'} size, {seconds / 60:.1f} min) against Elasticsearch {es_version}"
        f" on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "Each scenario is a test in `tests/resilience/` (its docstring is the claim; what it measured is listed"
        " under it). `make test` runs the same scenarios at a smaller size, without the three-node cluster and"
        " the long fuzzing run.",
        "",
        f"**{passed} of {len(scenarios)} scenarios pass, {failed} fail.**",
        "",
        "| Scenario | Verdict | Time |",
        "|---|---|---|",
    ]
    lines += [f"| [{s.title}](#{_anchor(s.title)}) | {VERDICTS[s.outcome]} | {s.seconds:.0f} s |" for s in scenarios]
    group = None
    for s in scenarios:
        if s.group != group:
            group = s.group
            lines += ["", f"## {group}"]
        lines += ["", f"### {s.title}", "", f"**{VERDICTS[s.outcome]}** · `{s.nodeid}`", ""]
        if s.claim:
            lines += [s.claim, ""]
        lines += [f"- {line}" for line in s.evidence]
        if s.failure:
            label = "Skipped" if s.outcome == "skipped" else "Failure"
            lines += ["", f"{label}:", "", "```", s.failure, "```"]
    return "\n".join(lines) + "\n"


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")
