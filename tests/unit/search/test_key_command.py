"""`python -m hermes key create`: keys the search function accepts, minted offline."""

from __future__ import annotations

import json

import pytest

from hermes.config import get_settings
from hermes.operator.cli import main
from hermes.schema import Schema
from hermes.search.keys import KeyVerifier, SearchKey

SECRET = "0123456789abcdef0123456789abcdef"


def test_a_created_key_is_one_the_search_function_accepts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HERMES_SEARCH_KEY_SECRET", SECRET)
    get_settings.cache_clear()
    argv = [
        "key",
        "create",
        "--sub",
        "acme",
        "--ttl",
        "30d",
        "--filter",
        "tenant=acme,acme-eu",
        "--filter-bool",
        "public=true",
        "--max-size",
        "20",
        "--rate",
        "60",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    schema = Schema.model_validate({"fields": {"tenant": {"type": "keyword"}, "public": {"type": "boolean"}}})
    key = KeyVerifier([SECRET]).verify(f"Bearer {out['key']}", lambda: schema)
    assert key == SearchKey("acme", {"tenant": ("acme", "acme-eu"), "public": (True,)}, 20, 60, caller="acme")
    assert out["claims"]["exp"] - out["claims"]["iat"] == 30 * 86400


def test_without_a_secret_it_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("HERMES_SEARCH_KEY_SECRET", raising=False)
    get_settings.cache_clear()
    assert main(["key", "create"]) == 1
    assert "HERMES_SEARCH_KEY_SECRET is not set" in capsys.readouterr().out
