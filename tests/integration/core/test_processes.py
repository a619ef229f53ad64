"""The functions as real functions-framework processes on ports, spoken to over HTTP."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from hermes.client import build_client
from hermes.load.full import full_load
from hermes.settings import to_environ
from tests.support.corpus import corpus, write_ndjson
from tests.support.datasource import record, serve
from tests.support.process import ROOT, command, free_port, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _env(settings: Any) -> dict[str, str]:
    return to_environ(settings)


def test_search_process_serves_http(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings(DATA_SOURCE_URL=write_ndjson(tmp_path / "c.ndjson", corpus()))
    full_load(build_client(settings), settings)
    with running("search", "search", _env(settings)) as url:
        resp = requests.get(f"{url}/search", params={"q": "lighthuose"}, timeout=10)
        assert resp.status_code == 200
        assert resp.json()["hits"][0]["id"] == "title-hit"
        assert requests.get(f"{url}/health/ready", timeout=10).status_code == 200
        bad = requests.get(f"{url}/search", params={"q": "a", "size": "1000"}, timeout=10)
        assert bad.status_code == 400
        assert bad.json() == {
            "error": {
                "type": "invalid_parameter",
                "parameter": "size",
                "message": "size: Input should be less than or equal to 100",
            }
        }


def test_pingsource_event_over_http_to_delta_process(make_settings: Any) -> None:
    with serve() as (source_url, src):
        settings = make_settings(DATA_SOURCE_URL=source_url)
        src.put(record("a", "2026-01-01T00:00:00Z"))
        with running("full_load", "full_load", _env(settings)) as full_url:
            structured = {"specversion": "1.0", "type": "dev.hermes.load.full", "source": "curl", "id": "1"}
            resp = requests.post(
                full_url, json=structured, timeout=60, headers={"Content-Type": "application/cloudevents+json"}
            )
            assert resp.json()["status"] == "completed"
        src.put(record("b", "2026-01-02T00:00:00Z"))
        # Exactly what a PingSource sends (binary mode; its data; a fresh id per tick).
        headers = {
            "Ce-Specversion": "1.0",
            "Ce-Type": "dev.knative.sources.ping",
            "Ce-Source": "/apis/v1/namespaces/default/pingsources/hermes-delta",
            "Ce-Id": "5f3e2d1c-0000-4000-8000-000000000001",
            "Ce-Time": "2026-11-22T10:00:00Z",
            "Content-Type": "application/json",
        }
        with running("delta_load", "delta_load", _env(settings)) as delta_url:
            resp = requests.post(delta_url, data=b'{"message": "tick"}', headers=headers, timeout=60)
            assert resp.status_code == 200
            assert resp.json()["status"] == "applied"
            assert resp.json()["indexed"] == 1


@pytest.mark.parametrize(
    ("name", "env", "named"),
    [
        ("full_load", {}, "DATA_SOURCE_URL"),
        ("delta_load", {"DATA_SOURCE_URL": "s3://x"}, "DATA_SOURCE_URL"),
        ("search", {"ES_URL": "localhost:9200"}, "ES_URL"),
        ("search", {"HERMES_ES_TIMEOUT_S": "soon"}, "HERMES_ES_TIMEOUT_S"),
        (
            "search",
            {"HERMES_SCHEMA": '{"fields": {"price": {"type": "number", "boost": 2}}}'},
            "HERMES_SCHEMA.fields.price",
        ),
        (
            "full_load",
            {"DATA_SOURCE_URL": "file:///x.json", "HERMES_SCHEMA": '{"fields": {"title": {"type": "text"}}}'},
            "title: is a core field",
        ),
    ],
)
def test_bad_configuration_stops_start_up_naming_the_variable(name: str, env: dict[str, str], named: str) -> None:
    proc = subprocess.run(
        command(name, name, free_port()),
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert named in proc.stderr
    assert "Traceback" not in proc.stderr
