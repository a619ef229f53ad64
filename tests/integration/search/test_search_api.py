"""The search function driven through functions-framework against the real Elasticsearch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from hermes.client import build_client
from hermes.load.full import full_load
from hermes.settings import Settings
from tests.support.corpus import corpus, stamp, write_ndjson
from tests.support.settings import environ, settings_with

pytestmark = pytest.mark.integration

SOURCE = "functions/search/main.py"


def _load_corpus(settings: Settings) -> Settings:
    es = build_client(settings)
    try:
        report = full_load(es, settings)
        assert (report["indexed"], report["deleted"]) == (33, 1)  # the corpus holds one tombstone
    finally:
        es.close()
    return settings


@pytest.fixture(scope="module")
def loaded(es_url: str, module_alias: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The corpus, loaded once for the module's read-only tests."""
    source = write_ndjson(tmp_path_factory.mktemp("corpus") / "c.ndjson", corpus())
    return _load_corpus(settings_with(ES_URL=es_url, ES_INDEX=module_alias, DATA_SOURCE_URL=source))


@pytest.fixture
def own_loaded(make_settings: Any, tmp_path: Path) -> Settings:
    """The corpus in this test's own alias, for a test that writes to it."""
    return _load_corpus(make_settings(DATA_SOURCE_URL=write_ndjson(tmp_path / "c.ndjson", corpus())))


@pytest.fixture
def client(loaded: Settings, function_client: Any) -> Any:
    return function_client("search", loaded, HERMES_CORS_ORIGINS="https://app.example")


def _ids(resp: Any) -> list[str]:
    assert resp.status_code == 200, resp.get_json()
    return [h["id"] for h in resp.get_json()["hits"]]


def test_title_match_beats_content_match(client: Any) -> None:
    ids = _ids(client.get("/search?q=lighthouse"))
    assert ids[0] == "title-hit"
    assert ids.index("content-hit") == len(ids) - 1  # both title matches rank above it


def test_zero_hits_offer_a_correction_that_has_hits(client: Any) -> None:
    # Two edits in a five-letter word: beyond the query's own typo tolerance, within the suggester's.
    body = client.get("/search?q=cuazt").get_json()
    assert (body["total"], body["did_you_mean"]) == (0, "coast")
    assert _ids(client.get("/search", query_string={"q": body["did_you_mean"]})) == ["title-hit"]
    both = client.get("/search?q=cuazt+wqlkz").get_json()
    assert both["did_you_mean"] == "coast walks"
    kept = client.get("/search?q=cuazt+zzqqxxjj").get_json()  # a word it cannot correct stays as typed
    assert kept["did_you_mean"] == "coast zzqqxxjj"
    # Not when the correction finds nothing under the same filters, nor from a tombstone's words.
    assert "did_you_mean" not in client.get("/search?q=cuazt&tag=web").get_json()
    assert "did_you_mean" not in client.get("/search?q=muzeun").get_json()  # only "Lighthouse museum", deleted
    assert "did_you_mean" not in client.get("/search?q=zzqqxxjj").get_json()
    assert "did_you_mean" not in client.get("/search?q=lighthouse").get_json()  # hits: no correction asked


def test_recency_lets_a_fresh_match_beat_an_old_better_one(
    make_settings: Any, tmp_path: Path, function_client: Any
) -> None:
    old, fresh = "2020-01-01T00:00:00Z", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    records = [
        {"id": "old", "title": "Lighthouse", "updated_at": old},
        {"id": "fresh", "title": "Lighthouse keepers of the northern coast", "updated_at": fresh},
    ]
    settings = make_settings(DATA_SOURCE_URL=write_ndjson(tmp_path / "r.ndjson", records))
    full_load(build_client(settings), settings)
    assert _ids(function_client("search", settings).get("/search?q=lighthouse")) == ["old", "fresh"]
    recent = function_client("search", settings, HERMES_RECENCY="30d")
    assert _ids(recent.get("/search?q=lighthouse")) == ["fresh", "old"]
    longest = function_client("search", settings, HERMES_RECENCY="36500d")  # start-up's limit: ES takes it too
    assert longest.get("/search?q=lighthouse").status_code == 200


def test_one_letter_typo_still_finds_the_title(client: Any) -> None:
    assert _ids(client.get("/search?q=lighthuose"))[0] == "title-hit"


def test_response_shape(client: Any) -> None:
    body = client.get("/search?q=lighthouse&size=1").get_json()
    assert set(body) == {"query", "total", "total_relation", "took_ms", "from", "size", "hits", "facets"}
    assert (body["query"], body["total_relation"], body["from"], body["size"]) == ("lighthouse", "eq", 0, 1)
    hit = body["hits"][0]
    assert hit["document"]["title"] == "Lighthouse keepers of Brittany"
    assert "deleted" not in hit["document"]
    assert hit["highlight"]["title"] == ["<mark>Lighthouse</mark> keepers of Brittany"]


def test_highlight_is_html_escaped(client: Any) -> None:
    hit = next(h for h in client.get("/search?q=lighthouse").get_json()["hits"] if h["id"] == "xss")
    assert "<b>" not in hit["highlight"]["title"][0]
    assert "&lt;b&gt;" in hit["highlight"]["title"][0]


def test_tombstones_are_never_served(client: Any) -> None:
    assert "gone" not in _ids(client.get("/search?q=lighthouse"))
    assert "gone" not in _ids(client.get("/search?q=*&size=100"))
    assert client.get("/documents/gone").status_code == 404
    titles = [s["title"] for s in client.get("/suggest?q=lighthouse").get_json()["suggestions"]]
    assert "Lighthouse museum" not in titles


def test_tag_filters_are_exact_and_combine_with_and(client: Any) -> None:
    assert sorted(_ids(client.get("/search?q=*&tag=fr"))) == ["content-hit", "title-hit"]
    assert _ids(client.get("/search?q=*&tag=fr&tag=sea")) == ["title-hit"]
    assert _ids(client.get("/search?q=*&tag=F")) == []
    assert _ids(client.get("/search?q=*&tag=fr&tag=web")) == []


def test_facets_equal_filtered_counts(client: Any) -> None:
    body = client.get("/search?q=*&tag=filler&size=1").get_json()
    facets = {f["value"]: f["count"] for f in body["facets"]["tags"]}
    assert facets == {"filler": 30, "even": 15, "odd": 15}
    even = client.get("/search?q=*&tag=even&size=1").get_json()
    assert even["total"] == facets["even"]


def test_date_range_and_sorts(client: Any) -> None:
    url = f"/search?q=*&tag=filler&updated_after={stamp(5)}&updated_before={stamp(9)}"
    asc = _ids(client.get(url + "&sort=updated_at"))
    assert asc == [f"doc-{i:02d}" for i in range(5, 10)]
    assert _ids(client.get(url + "&sort=-updated_at")) == asc[::-1]


def test_pagination_windows_do_not_overlap(client: Any) -> None:
    pages = [_ids(client.get(f"/search?q=*&size=7&from={f}")) for f in range(0, 35, 7)]
    flat = [i for page in pages for i in page]
    assert len(flat) == len(set(flat)) == 33  # 34 records less one tombstone


def test_relevance_pagination_is_stable(client: Any) -> None:
    first = _ids(client.get("/search?q=filler&size=10&from=0"))
    second = _ids(client.get("/search?q=filler&size=10&from=10"))
    assert not set(first) & set(second)


def test_suggest_finds_a_title_from_its_first_letters(client: Any) -> None:
    body = client.get("/suggest?q=lig").get_json()
    assert {"id": "title-hit", "title": "Lighthouse keepers of Brittany"} in body["suggestions"]
    multi = client.get("/suggest?q=lighthouse kee").get_json()["suggestions"]
    assert multi[0]["id"] == "title-hit"


def test_get_document(client: Any) -> None:
    resp = client.get("/documents/doc-03")
    assert resp.status_code == 200
    assert resp.get_json()["rating"] == 3
    assert resp.headers["Cache-Control"] == "public, max-age=5"
    missing = client.get("/documents/nope")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["type"] == "not_found"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("", "q"),
        ("q=" + "x" * 257, "q"),
        ("q=a&size=0", "size"),
        ("q=a&size=101", "size"),
        ("q=a&from=-1", "from"),
        ("q=a&from=990&size=20", "from"),
        ("q=a&sort=title", "sort"),
        ("q=a&updated_after=nope", "updated_after"),
    ],
)
def test_bounds_answer_400_naming_the_parameter(client: Any, query: str, parameter: str) -> None:
    resp = client.get(f"/search?{query}")
    assert resp.status_code == 400
    assert resp.get_json()["error"]["parameter"] == parameter


def test_unknown_route_and_wrong_method(client: Any) -> None:
    assert client.get("/nope").get_json()["error"]["type"] == "not_found"
    resp = client.post("/search?q=a")
    assert resp.status_code == 405
    assert resp.get_json()["error"]["type"] == "method_not_allowed"
    assert "GET" in resp.headers["Allow"]


def test_cors(client: Any) -> None:
    ok = client.get("/search?q=a", headers={"Origin": "https://app.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example"
    other = client.get("/search?q=a", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    pre = client.options("/search", headers={"Origin": "https://app.example"})
    assert pre.status_code == 204
    assert "GET" in pre.headers["Access-Control-Allow-Methods"]


def test_openapi_describes_every_route(client: Any) -> None:
    doc = client.get("/openapi.json").get_json()
    assert set(doc["paths"]) == {
        "/",
        "/search",
        "/suggest",
        "/documents/{doc_id}",
        "/health/live",
        "/health/ready",
        "/openapi.json",
        "/metrics",
    }
    names = {p["name"] for p in doc["paths"]["/search"]["get"]["parameters"]}
    assert names == {"q", "size", "from", "tag", "updated_after", "updated_before", "sort", "fields"}  # no schema


def test_metrics_count_requests_by_route_and_status(client: Any) -> None:
    client.get("/search?q=a")
    client.get("/search?size=0")
    client.get("/documents/doc-01")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'hermes_http_requests_total{route="/search",status="200"} 1.0' in text
    assert 'hermes_http_requests_total{route="/search",status="400"} 1.0' in text
    assert 'hermes_http_requests_total{route="/documents/<id:doc_id>",status="200"} 1.0' in text
    assert "hermes_http_request_duration_seconds_bucket" in text


def test_readiness_follows_the_alias(make_settings: Any, function_client: Any, tmp_path: Path) -> None:
    app = function_client("search", make_settings(HERMES_READY_CACHE_S=0))
    assert app.get("/health/live").status_code == 200
    before = app.get("/health/ready")
    assert before.status_code == 503
    assert "Retry-After" in before.headers
    search = app.get("/search?q=a")
    assert search.status_code == 503
    assert search.get_json()["error"]["type"] == "service_unavailable"
    settings = make_settings(DATA_SOURCE_URL=write_ndjson(tmp_path / "c.ndjson", corpus()[:3]))
    full_load(build_client(settings), settings)
    assert app.get("/health/ready").status_code == 200


def test_unreachable_elasticsearch_answers_503_without_internals(function_client: Any) -> None:
    app = function_client("search", ES_URL="http://127.0.0.1:9")  # nothing listens on the discard port
    for path in ("/search?q=a", "/suggest?q=a", "/documents/x"):
        resp = app.get(path)
        assert resp.status_code == 503
        assert resp.headers["Retry-After"] == "5"
        body = resp.get_json()
        assert body["error"]["type"] == "service_unavailable"
        assert "Traceback" not in resp.get_data(as_text=True)
        assert "127.0.0.1" not in resp.get_data(as_text=True)
    assert app.get("/health/ready").status_code == 503
    assert app.get("/health/live").status_code == 200
    metrics = app.get("/metrics").get_data(as_text=True)
    assert 'hermes_elasticsearch_errors_total{type="service_unavailable"} 3.0' in metrics


def test_elasticsearch_going_away_and_coming_back(loaded: Any, function_client: Any, es_url: str) -> None:
    import time
    from urllib.parse import urlsplit

    from tests.support.proxy import Proxy

    target = urlsplit(es_url)
    proxy = Proxy(str(target.hostname), int(target.port or 9200))
    proxy.up()
    app = function_client("search", loaded, ES_URL=f"http://127.0.0.1:{proxy.port}")
    try:
        assert app.get("/search?q=lighthouse").status_code == 200
        proxy.down()
        started = time.monotonic()
        gone = app.get("/search?q=lighthouse")
        assert gone.status_code == 503
        assert time.monotonic() - started < 5  # a dead cluster answers fast, not after a long hang
        proxy.up()
        deadline = time.monotonic() + 15
        while (status := app.get("/search?q=lighthouse").status_code) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200  # recovered by itself, same process, same client
    finally:
        proxy.down()


def test_document_ids_with_slashes_and_trailing_slashes(own_loaded: Any, function_client: Any, es: Any) -> None:
    client = function_client("search", own_loaded)
    for doc_id in ("/abc", "a/b", "x y%z"):
        es.index(
            index=own_loaded.es_index, id=doc_id, document={"id": doc_id, "title": "t", "deleted": False}, refresh=True
        )
    for doc_id in ("/abc", "a/b", "x y%z"):
        resp = client.get("/documents/" + quote(doc_id, safe="/"))
        assert resp.status_code == 200, doc_id
        assert resp.get_json()["id"] == doc_id
    assert client.get("/search/?q=lighthouse").status_code == 200  # a trailing slash is the same route
    assert client.get("/health/live/").status_code == 200
    too_long = "é" * 300  # 300 characters, 600 bytes: no such id can exist
    assert client.get("/documents/" + quote(too_long)).status_code == 404


_COLD_PROBE = """
import json, sys
from functions_framework import create_app
app = create_app("search", "functions/search/main.py").test_client()
answer = app.get("/search?q=lighthouse")
print(json.dumps({"status": answer.status_code, "total": answer.get_json().get("total"),
                  "pydantic": "pydantic" in sys.modules}))
"""


def test_a_first_search_on_an_index_without_declared_fields_imports_no_pydantic(loaded: Settings) -> None:
    """Start-up, settings, parameters and the served index's (empty) schema all take the light path."""
    env = {k: v for k, v in environ(loaded).items() if k != "HERMES_SCHEMA"}  # set, it is read by the model
    out = subprocess.run(
        [sys.executable, "-c", _COLD_PROBE],
        cwd=Path(__file__).resolve().parents[3],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env, "HERMES_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["status"], result["total"] > 0) == (200, True)
    assert result["pydantic"] is False
