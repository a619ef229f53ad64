"""scripts/cluster/hermes_app.py's repost of the first load, on the chart as helm really renders it.

`helm template` renders the hooks the way `helm get hooks` returns them for an installed release (the same
templates, the same values), so the Job reposted when the install's event was lost is checked against the
chart itself: whatever the chart's hook posts, the repost posts, under a new name and a new event id.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from scripts.cluster import hermes_app


def _hooks(tools: Path) -> str:
    chart = hermes_app.ROOT / "helm" / "hermes"
    argv = [str(tools / "helm"), "template", "hermes", str(chart), "-n", "hermes", "-f", str(hermes_app.VALUES)]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def _args(job: dict[str, Any]) -> list[str]:
    return list(job["spec"]["template"]["spec"]["containers"][0]["args"])


def test_the_repost_is_the_charts_first_load_job_with_a_new_name_and_event_id(tools: Path) -> None:
    hooks = _hooks(tools)
    chart_job = next(d for d in yaml.safe_load_all(hooks) if d and d["kind"] == "Job")
    job = hermes_app.repost_job(hooks, "hermes", 1234)
    assert job["metadata"] == {"generateName": "hermes-first-load-", "namespace": "hermes"}
    before, after = _args(chart_job), _args(job)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [("Ce-Id: first-load-hermes-1", "Ce-Id: first-load-hermes-1-repost-1234")]
    assert after[-1] == "http://broker-ingress.knative-eventing.svc.cluster.local/hermes/hermes"
    # Everything else is the chart's: the same spec once the event id is put back.
    job["spec"]["template"]["spec"]["containers"][0]["args"] = before
    assert job["spec"] == chart_job["spec"]
