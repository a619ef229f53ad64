"""Relevance rules (synonyms, pins, hides) on the library demo, through the search function on a real
Elasticsearch: set with the operator code or `python -m hermes rules`, in effect with no load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.client import build_transport
from hermes.load import indices
from hermes.operator import rules as operator
from hermes.search.keys import mint
from hermes.search.reader import Reader
from hermes.search.rules import OneWay, parse_rule
from hermes.search.served_rules import ServedRules
from hermes.settings import Settings
from tests.integration.search.test_declared_fields import _load_library
from tests.support.process import ROOT
from tests.support.settings import environ, settings_with

pytestmark = pytest.mark.integration

BOOKS = f"file://{ROOT / 'examples' / 'library' / 'books.json'}"
SCHEMA = f"file://{ROOT / 'examples' / 'library' / 'schema.json'}"
SECRET = "a-test-secret-of-at-least-32-bytes!"


@pytest.fixture(scope="module")
def shared_library(es_url: str, module_alias: str) -> Settings:
    """The library, loaded once for the module: no test writes to it, each sets rules beside it.
    The search function reads the rules on every search (TTL 0)."""
    return _load_library(
        settings_with(
            ES_URL=es_url, ES_INDEX=module_alias, DATA_SOURCE_URL=BOOKS, HERMES_SCHEMA=SCHEMA, HERMES_RULES_REFRESH_S=0
        )
    )


@pytest.fixture
def library(shared_library: Settings, es: Any) -> Iterator[Settings]:
    """The shared library with no rules: the rules index a test wrote is deleted after it."""
    yield shared_library
    es.options(ignore_status=404).indices.delete(index=shared_library.rules_index)


@pytest.fixture
def client(library: Settings, function_client: Any) -> Any:
    return function_client("search", library)


def _set(es: Any, settings: Settings, **raw: Any) -> None:
    operator.set_rule(es, settings.rules_index, parse_rule(raw))


def _search(client: Any, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    resp = client.get("/search", query_string=params, headers=headers or {})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def _ids(body: dict[str, Any]) -> list[str]:
    return [h["id"] for h in body["hits"]]


def test_synonyms_take_effect_without_a_load(library: Settings, client: Any, es: Any) -> None:
    served = indices.indices_behind(es, library.es_index)
    assert _search(client, q="leviathan")["total"] == 0
    _set(es, library, id="leviathan", type="one_way", **{"from": "Leviathan", "to": ["whale"]})
    found = _search(client, q="leviathan")
    assert _ids(found) == _ids(_search(client, q="whale"))  # "whale" is typo-tolerant: "while" too
    assert _ids(found)[0] == "moby-dick"
    assert "<mark>whale</mark>" in json.dumps(found["hits"][0]["highlight"]).lower()  # the variant's word
    _set(es, library, id="vampire", type="synonyms", terms=["vampire", "dracula"])
    assert _ids(_search(client, q="vampire")) == ["dracula"]
    assert indices.indices_behind(es, library.es_index) == served  # no load, no new index


def test_pins_come_first_in_order_and_never_pass_a_filter(library: Settings, client: Any, es: Any) -> None:
    assert set(_ids(_search(client, q="tolstoy"))) == {"war-and-peace", "anna-karenina"}
    _set(es, library, id="tolstoy", type="curate", query="Tolstoy", pin=["the-hobbit", "anna-karenina"])
    found = _search(client, q="TOLSTOY ")
    assert _ids(found) == ["the-hobbit", "anna-karenina", "war-and-peace"]
    assert found["total"] == 3
    assert _ids(_search(client, q="tolstoy", size=1, **{"from": 1})) == ["anna-karenina"]  # pages go on
    # the caller's filters and a key's filter hold for pins: the English hobbit is not a Russian book
    assert _ids(_search(client, q="tolstoy", **{"filter.language": "ru"})) == ["anna-karenina", "war-and-peace"]
    # another sort: the caller asked for an order; pins do not apply
    assert set(_ids(_search(client, q="tolstoy", sort="-updated_at"))) == {"war-and-peace", "anna-karenina"}


def test_a_pin_never_shows_a_document_outside_a_keys_filter(library: Settings, function_client: Any, es: Any) -> None:
    client = function_client("search", library, HERMES_SEARCH_KEY_SECRET=SECRET)
    _set(es, library, id="tolstoy", type="curate", query="tolstoy", pin=["the-hobbit"])
    french = {"Authorization": f"Bearer {mint(SECRET, sub='fr', filter={'language': ['fr']})}"}
    english = {"Authorization": f"Bearer {mint(SECRET, sub='en', filter={'language': ['en']})}"}
    assert _search(client, french, q="tolstoy")["total"] == 0
    assert _ids(_search(client, english, q="tolstoy")) == ["the-hobbit"]


def test_a_hide_leaves_hits_totals_facets_and_suggestions(library: Settings, client: Any, es: Any) -> None:
    before = _search(client, q="tolstoy")
    assert {v["value"]: v["count"] for v in before["facets"]["language"]} == {"ru": 2}
    _set(es, library, id="no-anna", type="curate", query="tolstoy", hide=["anna-karenina"])
    after = _search(client, q="tolstoy")
    assert (_ids(after), after["total"]) == (["war-and-peace"], 1)
    assert {v["value"]: v["count"] for v in after["facets"]["language"]} == {"ru": 1}
    assert _search(client, q="tolstoy", sort="updated_at")["total"] == 1  # whatever the sort
    assert _search(client, q="war")["total"] >= 1  # another query is left alone
    _set(es, library, id="anna", type="curate", query="anna", hide=["anna-karenina"])
    assert _search(client, q="anna")["total"] == 0
    titles = client.get("/suggest", query_string={"q": "anna"}).get_json()["suggestions"]
    assert "anna-karenina" not in {s["id"] for s in titles}
    assert "anna-karenina" in {s["id"] for s in client.get("/suggest?q=ann").get_json()["suggestions"]}


def test_a_rule_shows_once_the_cache_period_has_passed(library: Settings, es: Any) -> None:
    now = [0.0]
    served = ServedRules(refresh_s=10, clock=lambda: now[0])
    reader = Reader(build_transport(library))
    assert served.get(reader, library.rules_index).rules == ()  # no rules index yet: no rules
    operator.set_rule(es, library.rules_index, OneWay("l", "leviathan", ("whale",)))
    now[0] = 9.9
    assert served.get(reader, library.rules_index).rules == ()  # within the period: the cached set
    now[0] = 10.0
    assert [r.id for r in served.get(reader, library.rules_index).rules] == ["l"]


def _cli(settings: Settings, *args: str, stdin: str | None = None) -> tuple[int, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "hermes", "rules", *args],
        cwd=ROOT,
        env={**os.environ, **environ(settings)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return out.returncode, json.loads(out.stdout) if out.stdout.strip() else out.stderr


@pytest.mark.slow  # runs `python -m hermes rules` as a process, once a step
def test_the_rules_command_round_trips_a_file(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings()
    assert _cli(settings, "list") == (0, {"index": settings.rules_index, "rules": []})
    code, answer = _cli(settings, "set", "tv", "--synonyms", "tv", "television")
    assert (code, answer["set"]["terms"]) == (0, ["tv", "television"])
    code, _ = _cli(settings, "set", "whale", "--query", "white whale", "--pin", "moby-dick", "--hide", "alice")
    assert code == 0
    exported = tmp_path / "rules.json"
    assert _cli(settings, "export", str(exported)) == (0, {"exported": 2, "file": str(exported)})
    written = json.loads(exported.read_text())
    assert [r["id"] for r in written["rules"]] == ["tv", "whale"]

    # into another alias (named <alias>-copy: the test's clean-up takes its rules index too), where
    # replacing drops what the file lacks
    other = settings_with(settings, ES_INDEX=f"{settings.es_index}-copy")
    assert _cli(other, "set", "old", "--one-way", "sofa", "--to", "couch")[0] == 0
    code, answer = _cli(other, "import", str(exported), "--replace")
    assert (code, answer["deleted"], answer["rules"]) == (0, ["old"], 2)
    assert _cli(other, "export", "-") == (0, written)
    assert _cli(other, "delete", "tv") == (0, {"deleted": "tv"})
    code, answer = _cli(other, "delete", "tv")
    assert (code, answer["error"]["type"]) == (1, "not_found")


@pytest.mark.slow  # runs `python -m hermes rules` as a process, once a step
def test_the_rules_command_refuses_a_bad_rule_clearly(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings()
    code, answer = _cli(settings, "set", "tv", "--synonyms", "tv")
    assert (code, answer["error"]["type"]) == (1, "invalid_rule")
    assert "terms must be a list of 2 to 20 terms" in answer["error"]["message"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rules": [{"id": "x", "type": "curate", "query": "q", "pin": ["a"] * 2}]}))
    code, answer = _cli(settings, "import", str(bad))
    assert (code, answer["error"]["message"]) == (1, "rule x: pin repeats an id")
    code, answer = _cli(settings, "import", "-", stdin="[]")
    assert code == 1
    assert '{"rules": [rule, …]}' in answer["error"]["message"]
    code, usage = _cli(settings, "set", "tv")
    assert code == 2
    assert "--synonyms" in usage
    assert _cli(settings, "list")[1]["rules"] == []  # nothing was written


def test_the_library_example_rules_import_and_apply(library: Settings, client: Any) -> None:
    example = ROOT / "examples" / "library" / "rules.json"
    code, answer = _cli(library, "import", str(example))
    assert (code, answer["imported"]) == (0, 4)
    assert _ids(_search(client, q="vampire")) == ["dracula"]
    assert _ids(_search(client, q="Russian novel"))[:2] == ["war-and-peace", "anna-karenina"]
    assert _ids(_search(client, q="tolstoy")) == ["war-and-peace"]
