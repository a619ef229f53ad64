"""Security: what an event, a source or a manifest cannot make the loaders do (OWASP API 4, 7, 10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from hermes.client import build_client
from hermes.load.full import cancel
from hermes.settings import load_settings
from tests.deploy.manifests import helm_template, kustomize_build
from tests.resilience.kit import DELTA_EVENT, FULL_EVENT, corpus, env_of, pick, post_event
from tests.support.datasource import SourceBehaviour, serve
from tests.support.loaders import loaders
from tests.support.process import started

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOADERS = (("full_load", FULL_EVENT), ("delta_load", DELTA_EVENT))


def test_loaders_ignore_any_url_in_event_data(es_url: str, alias: str, evidence: Any) -> None:
    """Loaders ignore any URL in event data (API7, server-side request forgery)

    Each loader gets an event whose data, source and extension attributes all name a decoy server. The decoy
    must receive nothing; the configured source is the only one read.
    """
    with serve() as (url, src), serve() as (decoy, trap):
        src.put(*corpus(20))
        trap.put(*corpus(5, title="Decoy"))
        hostile = dict.fromkeys(("url", "source", "data_source_url", "DATA_SOURCE_URL", "next", "href"), decoy)
        env = env_of(es_url, alias, url)
        answers = []
        with loaders(env) as (delta_url, full_url):
            for (name, kind), f_url in zip(LOADERS, (full_url, delta_url), strict=True):
                resp = post_event(f_url, kind, json.dumps(hostile).encode(), source=decoy)
                answers.append(f"{name} {resp.status_code} {resp.json().get('status')}")
                assert resp.status_code == 200, resp.text
    evidence(f"event data {sorted(hostile)} and Ce-Source all named the decoy: {'; '.join(answers)}")
    evidence(f"the configured source served {len(src.requests)} requests, the decoy {len(trap.requests)}")
    assert trap.requests == []
    assert src.requests


BAD_EVENTS: dict[str, tuple[dict[str, str], bytes]] = {
    "no CloudEvent headers": ({"Content-Type": "application/json"}, b"{}"),
    "no ce-id": (
        {"Ce-Specversion": "1.0", "Ce-Type": FULL_EVENT, "Ce-Source": "x", "Content-Type": "application/json"},
        b"{}",
    ),
    "spec version 0.1": (
        {
            "Ce-Specversion": "0.1",
            "Ce-Type": FULL_EVENT,
            "Ce-Source": "x",
            "Ce-Id": "1",
            "Content-Type": "application/json",
        },
        b"{}",
    ),
    "structured, not JSON": ({"Content-Type": "application/cloudevents+json"}, b"{not json"),
    "structured, no type": (
        {"Content-Type": "application/cloudevents+json"},
        b'{"specversion": "1.0", "source": "x", "id": "1"}',
    ),
}
# Only the full load reads its data ({"force": true}); a delta ignores whatever a PingSource sends.
NOT_JSON = (
    {
        "Ce-Specversion": "1.0",
        "Ce-Type": FULL_EVENT,
        "Ce-Source": "x",
        "Ce-Id": "1",
        "Content-Type": "application/json",
    },
    b"\xff\xfe",
)


def test_bad_and_oversized_events_get_400_and_413(es_url: str, alias: str, evidence: Any) -> None:
    """Bad and oversized CloudEvents get 400 and 413 with a JSON error, and start no load (API4)

    Malformed events and one of 1 MiB (past HERMES_MAX_EVENT_BYTES, 64 KiB) go to each loader. Each must be
    refused with a JSON error naming the problem, and the source must never be read.
    """
    with serve() as (url, src):
        env = env_of(es_url, alias, url)
        seen: dict[str, set[str]] = {}
        with loaders(env) as (delta_url, full_url):
            for (name, kind), f_url in zip(LOADERS, (full_url, delta_url), strict=True):
                cases = {**BAD_EVENTS, "data not JSON": NOT_JSON} if name == "full_load" else BAD_EVENTS
                for case, (given, body) in cases.items():
                    headers = {**given, "Ce-Type": kind} if "Ce-Type" in given else given
                    resp = requests.post(f_url, data=body, headers=headers, timeout=30)
                    assert resp.status_code == 400, (case, resp.text)
                    seen.setdefault(f"400 `{resp.json()['error']['type']}`", set()).add(f"{case} ({name})")
                big = post_event(f_url, kind, json.dumps({"pad": "x" * (1 << 20)}).encode())
                assert big.status_code == 413, big.text
                seen.setdefault(f"413 `{big.json()['error']['type']}`", set()).add(f"1 MiB event ({name})")
    for answer, which in seen.items():
        evidence(f"{answer}: {', '.join(sorted(which))}")
    evidence(f"the source was read {len(src.requests)} times")
    assert src.requests == []


def test_rendered_manifests_keep_the_loaders_cluster_local(tools: Path, evidence: Any) -> None:
    """Rendered manifests keep the loaders cluster-local (API7: no public route to a loader)

    The chart (helm template, real helm) and the kustomize overlay (real kustomize) are rendered; each loader's
    Knative Service must carry `networking.knative.dev/visibility: cluster-local` (the label Knative's
    networking reads: knative.dev/networking pkg/apis/networking, VisibilityLabelKey), the search one must not.
    """
    rendered = {"helm template": helm_template(tools), "kustomize build knative/": kustomize_build(tools)}
    for how, objs in rendered.items():
        services = [o for o in objs if o.get("kind") == "Service"]
        visibility = {
            s["metadata"]["name"]: s["metadata"].get("labels", {}).get("networking.knative.dev/visibility")
            for s in services
        }
        evidence(f"{how}: {visibility}")
        assert visibility == {
            "hermes-search": None,
            "hermes-full-load": "cluster-local",
            "hermes-delta-load": "cluster-local",
        }


def test_next_links_never_leave_the_source_origin(es_url: str, alias: str, evidence: Any) -> None:
    """`next` links never leave the source's origin (API10, unsafe consumption of APIs)

    The source's first page links to a decoy on another port, then to the same host over another scheme. The
    full load must fail with `source_error` before following either, leaving nothing served changed.
    """
    n = pick(10, 100)
    with serve(SourceBehaviour(fmt="pages", page_size=n)) as (url, src), serve() as (decoy, trap):
        src.put(*corpus(n))
        env = env_of(es_url, alias, url)
        results = []
        for target in (decoy, url.replace("http://", "https://")):
            page = {"items": corpus(n), "next": target}
            src.raw_body = json.dumps(page).encode()
            with started("full_load", "full_load", env) as (f_url, _):
                resp = post_event(f_url, FULL_EVENT)
            results.append((target, resp.status_code, resp.json()["error"]))
            # The failed load waits for a redelivery that resumes it (none comes here): end it, as an operator would.
            settings = load_settings(env)
            cancel(build_client(settings), settings)
    for target, status, error in results:
        evidence(f"next → {target}: {status} `{error['type']}`: {error['message'][:140]}")
        assert status == 502
        assert error["type"] == "source_error"
    evidence(f"the decoy was asked {len(trap.requests)} times")
    assert trap.requests == []
