"""Every command the documentation shows exists: make targets, python -m modules, and marked curl blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import docs_check


def test_the_docs_show_only_commands_that_exist() -> None:
    assert docs_check.problems() == []


def test_each_demo_has_curl_examples_to_run() -> None:
    for demo in docs_check.DEMOS:
        assert docs_check.curl_examples(demo), demo


@pytest.fixture
def tiny_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository of one Makefile target (``ok``) and an empty docs/; README.md is the test's to write."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "Makefile").write_text(".PHONY: ok\nok: ## fine\n\techo ok\nVAR := 1\n", encoding="utf-8")
    monkeypatch.setattr(docs_check, "ROOT", tmp_path)
    return tmp_path


def _problems_of(repo: Path, readme: str) -> list[str]:
    (repo / "README.md").write_text(readme, encoding="utf-8")
    return [p for p in docs_check.problems() if not p.startswith("docs/configuration.md")]


def test_an_unknown_make_target_is_reported(tiny_repo: Path) -> None:
    found = _problems_of(tiny_repo, "Run `make ok`, then `X=1 make nope`.\n\n```bash\nmake VAR := 1\n```\n")
    assert found == ["README.md:1: no Makefile target 'nope': X=1 make nope"]


def test_a_module_that_does_not_resolve_is_reported(tiny_repo: Path) -> None:
    found = _problems_of(tiny_repo, "`python -m hermes status` and `python -m hermes.nowhere`\n")
    assert found == ["README.md:1: python -m hermes.nowhere does not resolve"]


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("", "a curl block needs a <!-- check: … --> marker"),
        ("<!-- check: skip: -->", "unknown check marker 'skip:'"),
        ("<!-- check: curl moon -->", "unknown check marker 'curl moon'"),
        ("<!-- check: skip: needs a cluster -->", None),
        ("<!-- check: curl cities -->", None),
    ],
)
def test_a_curl_block_needs_a_marker_saying_how_it_is_checked(
    tiny_repo: Path, marker: str, expected: str | None
) -> None:
    found = _problems_of(tiny_repo, f"Intro\n{marker}\n```bash\ncurl 'http://127.0.0.1:8080/search?q=a'\n```\n")
    assert found == ([f"README.md:4: {expected}"] if expected else [])


def test_a_run_curl_example_must_call_the_search_function(tiny_repo: Path) -> None:
    found = _problems_of(tiny_repo, "<!-- check: curl cities -->\n```bash\ncurl http://127.0.0.1:8081/\n```\n")
    assert found == ["README.md:3: a run curl example must call the search function at http://127.0.0.1:8080"]


def test_an_inline_curl_cannot_be_checked(tiny_repo: Path) -> None:
    found = _problems_of(tiny_repo, "Try `curl localhost:8080/search?q=a`.\n")
    assert found == ["README.md:1: a curl outside a fenced block cannot be checked: curl localhost:8080/search?q=a"]


def test_a_link_to_a_missing_file_or_heading_is_reported(tiny_repo: Path) -> None:
    (tiny_repo / "docs" / "api.md").write_text("# The API\n\n## Declared fields (`HERMES_SCHEMA`)\n", encoding="utf-8")
    readme = "[a](docs/api.md#declared-fields-hermes_schema) [b](docs/api.md#nope) [c](docs/gone.md)\n"
    assert _problems_of(tiny_repo, readme) == [
        "README.md:1: link to a missing heading: docs/api.md#nope",
        "README.md:1: link to a missing file: docs/gone.md",
    ]
