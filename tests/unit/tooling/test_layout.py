"""The shape of the house: a path says which function a module serves.

Each function is imported the way functions-framework imports it (its ``main.py`` from
the repo root, in a fresh interpreter), then serves one request; ``sys.modules`` then
lists everything that function ever loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

_PROBE = """
import json, sys
from functions_framework import create_app
app = create_app(sys.argv[1], sys.argv[2]).test_client()
status = app.open(sys.argv[3], method=sys.argv[4]).status_code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def loaded_modules(function: str, target: str, path: str, method: str = "GET") -> tuple[int, set[str]]:
    env = {"PATH": "/usr/bin:/bin", "ES_URL": "http://127.0.0.1:9", "DATA_SOURCE_URL": "file:///nonexistent.json",
           "HERMES_ES_TIMEOUT_S": "0.5", "HERMES_ES_MAX_RETRIES": "0", "HERMES_LOG_LEVEL": "CRITICAL"}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, target, f"functions/{function}/main.py", path, method],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return int(result["status"]), set(result["modules"])


def _hermes(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "hermes" or m.startswith("hermes.")}


@pytest.mark.parametrize("path", ["/health/live", "/search?q=paris"])
def test_search_function_imports_no_loader_module(path: str) -> None:
    status, modules = loaded_modules("search", "search", path)
    assert status == (200 if path == "/health/live" else 503)  # the request really ran
    assert "hermes.search.app" in modules
    loaders = {m for m in _hermes(modules) if m.startswith("hermes.load")}
    assert loaders == set()
    # Nor anything only the loaders need: the full client, the source parser, pydantic-settings.
    assert {"elasticsearch", "pydantic_settings", "ijson"}.isdisjoint(modules)


def test_loader_functions_import_no_search_module() -> None:
    for function in ("full_load", "delta_load"):
        status, modules = loaded_modules(function, function, "/", "POST")
        assert status == 400  # not a CloudEvent: parsed and refused by the loader's own code
        assert "hermes.load.app" in modules
        assert {m for m in _hermes(modules) if m.startswith("hermes.search")} == set()
