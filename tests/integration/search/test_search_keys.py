"""Scoped search keys and rate limits through the search function, on a real Elasticsearch.

Two tenants share one index; a key filtered to one of them must never show the other, by any route.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from functions_framework import create_app

from hermes.client import build_client
from hermes.load.full import full_load
from hermes.search.keys import mint
from hermes.settings import Settings
from tests.conftest import clear_caches
from tests.support.corpus import write_ndjson
from tests.support.settings import settings_with

pytestmark = pytest.mark.integration

SECRET = "a-test-secret-of-at-least-32-bytes!"
SCHEMA = {"fields": {"tenant": {"type": "keyword", "filter": True, "facet": True}, "public": {"type": "boolean"}}}
STAMP = "2026-01-02T00:00:00Z"
DOCS = [
    {"id": "a1", "title": "Lighthouse keepers", "content": "coast walks", "tenant": "acme", "tags": ["sea"]},
    {"id": "a2", "title": "Lighthouse lamps", "content": "brass", "tenant": "acme", "tags": ["sea"]},
    {"id": "b1", "title": "Lighthouse secrets", "content": "coastal walkers", "tenant": "globex", "tags": ["secret"]},
    {"id": "b2", "title": "Lightning rods", "content": "copper", "tenant": "globex", "tags": ["secret"]},
]


@pytest.fixture(scope="module")
def tenants(es_url: str, module_alias: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Both tenants' documents, loaded once for the module: its tests only search them."""
    records = [{**d, "updated_at": STAMP} for d in DOCS]
    source = write_ndjson(tmp_path_factory.mktemp("tenants") / "t.ndjson", records)
    settings = settings_with(
        ES_URL=es_url, ES_INDEX=module_alias, DATA_SOURCE_URL=source, HERMES_SCHEMA=json.dumps(SCHEMA)
    )
    full_load(build_client(settings), settings)
    return settings


@pytest.fixture
def client(tenants: Settings, monkeypatch: pytest.MonkeyPatch, es_url: str) -> Any:
    clear_caches()
    for name, value in {"ES_URL": es_url, "ES_INDEX": tenants.es_index, "HERMES_SEARCH_KEY_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)
    return create_app("search", "functions/search/main.py").test_client()


def _get(client: Any, path: str, key: str | None, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get(path, query_string=params, headers=headers)


def test_a_tenant_key_never_sees_the_other_tenant(client: Any) -> None:
    acme = mint(SECRET, sub="acme-web", filter={"tenant": ["acme"]})
    # a globex word, typed by acme: the other tenant's hit, total and facets stay invisible
    body = _get(client, "/search", acme, q="lighthouse").get_json()
    assert {h["id"] for h in body["hits"]} == {"a1", "a2"}
    assert body["total"] == 2
    assert {v["value"] for v in body["facets"]["tags"]} == {"sea"}
    assert {v["value"] for v in body["facets"]["tenant"]} == {"acme"}
    # the caller's own filters only narrow the key's: another tenant's value finds nothing, both find acme's
    assert _get(client, "/search", acme, q="*", **{"filter.tenant": "globex"}).get_json()["total"] == 0
    both = client.get(
        "/search?q=*&filter.tenant=acme&filter.tenant=globex", headers={"Authorization": f"Bearer {acme}"}
    )
    assert both.get_json()["total"] == 2
    assert _get(client, "/search", acme, q="secrets").get_json()["total"] == 0
    suggestions = _get(client, "/suggest", acme, q="ligh").get_json()["suggestions"]
    assert {s["id"] for s in suggestions} == {"a1", "a2"}
    assert _get(client, "/documents/a1", acme).status_code == 200
    other = _get(client, "/documents/b1", acme)
    assert other.status_code == 404
    assert other.get_json()["error"]["type"] == "not_found"


def test_did_you_mean_offers_only_what_the_tenant_can_find(client: Any) -> None:
    # Two edits from a short word: beyond the query's typo tolerance, within the suggester's, which reads the
    # whole index; each tenant is offered only its own word.
    globex = mint(SECRET, filter={"tenant": ["globex"]})
    acme = mint(SECRET, filter={"tenant": ["acme"]})
    assert _get(client, "/search", acme, q="lumpz").get_json().get("did_you_mean") == "lamps"
    assert "did_you_mean" not in _get(client, "/search", globex, q="lumpz").get_json()
    assert _get(client, "/search", globex, q="rudz").get_json().get("did_you_mean") == "rods"
    assert "did_you_mean" not in _get(client, "/search", acme, q="rudz").get_json()


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (None, "required"),
        ("not.a.jwt", "malformed"),
        (mint("another-secret-of-at-least-32-bytes"), "signature"),
        (mint(SECRET, ttl_s=-10), "expired"),
    ],
)
def test_missing_bad_forged_or_expired_keys_get_401(client: Any, key: str | None, says: str) -> None:
    for path in ("/search?q=lighthouse", "/suggest?q=li", "/documents/a1"):
        resp = client.get(path, headers={"Authorization": f"Bearer {key}"} if key else {})
        assert resp.status_code == 401, path
        assert resp.get_json()["error"]["type"] == "unauthorized"
        assert says in resp.get_json()["error"]["message"]
    assert _get(client, "/health/live", None).status_code == 200  # health stays open


def test_a_key_caps_size_and_answers_are_private(client: Any) -> None:
    key = mint(SECRET, max_size=2)
    resp = _get(client, "/search", key, q="lighthouse", size=3)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["parameter"] == "size"
    ok = _get(client, "/search", key, q="lighthouse", size=2)
    assert ok.status_code == 200
    assert ok.headers["Cache-Control"].startswith("private")
    assert "Authorization" in ok.headers["Vary"]


def test_a_key_past_its_rate_gets_429_with_retry_after(client: Any) -> None:
    key = mint(SECRET, sub="burst", rate=3)
    codes = [_get(client, "/search", key, q="lighthouse").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    limited = _get(client, "/search", key, q="lighthouse")
    assert limited.get_json()["error"]["type"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert _get(client, "/search", mint(SECRET, sub="calm", rate=3), q="lighthouse").status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'hermes_http_requests_total{route="/search",status="429"} 3.0' in metrics


def test_without_a_secret_search_is_open_and_addresses_are_limited(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HERMES_SEARCH_KEY_SECRET")
    monkeypatch.setenv("HERMES_RATE_LIMIT", "2")
    clear_caches()
    open_client = create_app("search", "functions/search/main.py").test_client()
    junk = {"Authorization": "Bearer junk"}  # ignored without a secret: nothing a client sends breaks
    first = [
        open_client.get("/search?q=lighthouse", headers={**junk, "X-Forwarded-For": "203.0.113.7"}) for _ in range(3)
    ]
    assert [r.status_code for r in first] == [200, 200, 429]
    other = open_client.get("/search?q=lighthouse", headers={"X-Forwarded-For": "203.0.113.8"})
    assert other.status_code == 200
    assert len(other.get_json()["hits"]) == 3  # every tenant: no key, no filter
