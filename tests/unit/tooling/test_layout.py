"""The shape of the house: a path says which function a module serves.

Each function is imported the way functions-framework imports it (its ``main.py`` from
the repo root, in a fresh interpreter), then serves one request; ``sys.modules`` then
lists everything that function ever loaded.
"""

from __future__ import annotations

import ast
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
    env = {
        "PATH": "/usr/bin:/bin",
        "ES_URL": "http://127.0.0.1:9",
        "DATA_SOURCE_URL": "file:///nonexistent.json",
        "HERMES_ES_TIMEOUT_S": "0.5",
        "HERMES_ES_MAX_RETRIES": "0",
        "HERMES_LOG_LEVEL": "CRITICAL",
    }
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, target, f"functions/{function}/main.py", path, method],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return int(result["status"]), set(result["modules"])


def _hermes(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "hermes" or m.startswith("hermes.")}


# Each probe runs a fresh interpreter, a process: `slow`, but for the fullest search request's, which
# `make test-fast` keeps (the import-graph tests below need no process and run in both).
@pytest.mark.slow
@pytest.mark.parametrize("path", ["/health/live", "/search?q=paris"])
def test_search_function_imports_no_loader_module(path: str) -> None:
    status, modules = loaded_modules("search", "search", path)
    assert status == (200 if path == "/health/live" else 503)  # the request really ran
    assert "hermes.search.app" in modules
    loaders = {m for m in _hermes(modules) if m.startswith(("hermes.load", "hermes.operator"))}
    assert loaders == set()
    # Nor anything only the loaders need: the full client, the source parser, pydantic-settings.
    assert {"elasticsearch", "pydantic_settings", "ijson"}.isdisjoint(modules)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/health/live", marks=pytest.mark.slow),
        pytest.param("/search?q=paris", marks=pytest.mark.slow),
        "/search?q=paris&size=20&from=40&tag=fr&sort=-updated_at",
        pytest.param("/suggest?q=pa", marks=pytest.mark.slow),
    ],
)
def test_search_function_cold_path_imports_no_pydantic(path: str) -> None:
    """Start-up and a valid request read settings and parameters with the light readers (hermes.config,
    hermes.search.params): pydantic's import and model builds stay off the search function's cold start,
    and so does typing_extensions, which only the body TypedDicts pydantic reads need (hermes.bodies)."""
    status, modules = loaded_modules("search", "search", path)
    assert status == (200 if path == "/health/live" else 503)  # parsed, then Elasticsearch is unreachable
    off_path = {"pydantic", "pydantic_core", "typing_extensions", "hermes.settings", "hermes.schema", "hermes.bodies"}
    assert {*off_path, "hermes.search.models"}.isdisjoint(modules)


@pytest.mark.slow
def test_search_function_reads_an_invalid_request_with_the_model() -> None:
    """The other half: pydantic, imported when a value is invalid, names the parameter."""
    status, modules = loaded_modules("search", "search", "/search?q=paris&size=500")
    assert status == 400
    assert "pydantic" in modules


@pytest.mark.slow
def test_loader_functions_import_no_search_module() -> None:
    for function in ("full_load", "delta_load"):
        status, modules = loaded_modules(function, function, "/", "POST")
        assert status == 400  # not a CloudEvent: parsed and refused by the loader's own code
        assert "hermes.load.app" in modules
        assert {m for m in _hermes(modules) if m.startswith(("hermes.search", "hermes.operator"))} == set()


PACKAGE = ROOT / "hermes"


def imported_modules(source: str, package: str) -> set[str]:
    """Every module ``source`` (a file of ``package``) names in an import, at any depth: imports inside
    functions count, relative ones are resolved, and ``from hermes import load`` names ``hermes.load``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def crossings(folder: Path, forbidden: tuple[str, ...]) -> dict[str, set[str]]:
    """Files under ``folder`` that import anything of the ``forbidden`` packages, with what they import."""
    out: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        package = ".".join(path.relative_to(ROOT).parent.parts)
        bad = {m for m in imported_modules(path.read_text(), package) if any(_within(m, f) for f in forbidden)}
        if bad:
            out[str(path.relative_to(ROOT))] = bad
    return out


def test_import_parser_sees_lazy_relative_and_from_package_imports() -> None:
    source = "from . import query\nfrom ..load import sink\ndef f():\n    from hermes import operator\n"
    found = imported_modules(source, "hermes.search")
    assert {"hermes.search.query", "hermes.load.sink", "hermes.operator"} <= found


@pytest.mark.parametrize(
    ("wing", "forbidden"),
    [("search", ("hermes.load", "hermes.operator")), ("load", ("hermes.search", "hermes.operator"))],
)
def test_wings_never_import_each_other_nor_the_operator_commands(wing: str, forbidden: tuple[str, ...]) -> None:
    assert crossings(PACKAGE / wing, forbidden) == {}


def test_core_modules_import_no_subpackage() -> None:
    core = {p for p in PACKAGE.glob("*.py") if p.name != "__main__.py"}  # __main__ only starts the operator CLI
    subpackages = ("hermes.search", "hermes.load", "hermes.operator")
    bad = {
        str(p.relative_to(ROOT)): found
        for p in core
        if (found := {m for m in imported_modules(p.read_text(), "hermes") if any(_within(m, s) for s in subpackages)})
    }
    assert bad == {}
