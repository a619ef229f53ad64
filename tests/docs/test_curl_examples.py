"""The curl examples of the docs, run as shown against a search function serving the demo they are written for.

Each block marked ``<!-- check: curl <demo> -->`` is run line by line with curl itself, its base URL pointed at a
search function process on loopback whose index a full load built from that demo (on a real Elasticsearch).
Every example must answer 200; a ``"key": "value"`` its comment promises must be in the JSON it answers.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from hermes.client import build_client
from hermes.load.full import full_load
from hermes.settings import Settings
from scripts import demo_source, docs_check
from tests.support.process import ROOT, running, side_by_side

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The most populous cities are enough for every example (Paris, Tokyo, European capitals) and load in seconds.
CITIES = 2000


def _demo_source(demo: str, folder: Path) -> str:
    """The demo's records as ``make dev`` serves them, written where a loader can read them."""
    if demo == "library":
        return f"file://{ROOT / 'examples' / 'library' / 'books.json'}"
    path = folder / "cities.ndjson"
    lines = (json.dumps(record) for record in demo_source.cities(CITIES).values())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"file://{path}"


@contextmanager
def _serving(demo: str, es_url: str, folder: Path) -> Iterator[str]:
    """The base URL of a search function serving ``demo``, loaded by a real full load; its indices deleted after."""
    alias = f"t{uuid.uuid4().hex[:10]}"
    env = {
        "ES_URL": es_url,
        "ES_INDEX": alias,
        "HERMES_SCHEMA": f"file://{ROOT / 'examples' / demo / 'schema.json'}",
    }
    settings = Settings.model_validate({**env, "DATA_SOURCE_URL": _demo_source(demo, folder)})
    full_load(build_client(settings), settings)
    try:
        with running("search", "search", env) as url:
            yield url
    finally:
        found = requests.get(f"{es_url}/{alias}-*,{alias}.hermes-state?filter_path=*.aliases", timeout=30)
        if found.status_code == 200 and found.json():
            requests.delete(f"{es_url}/{','.join(found.json())}", timeout=30).raise_for_status()


@pytest.fixture(scope="module")
def served(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """``served(demo)``: the base URL of the search function serving that demo, loaded and started once per
    module (an indirect parameter per example would key the module fixture by example, and reload the demo
    for each of them). The first call prepares every demo at once, side by side: their loads overlap."""
    with ExitStack() as stack:
        urls: dict[str, str] = {}
        failed: list[BaseException] = []  # a failed start is raised again, never retried beside what did start

        def url_of(demo: str) -> str:
            if failed:
                raise failed[0]
            if not urls:
                names = list(docs_check.DEMOS)
                try:
                    found = side_by_side(stack, [_serving(n, es_url, tmp_path_factory.mktemp(n)) for n in names])
                except Exception as exc:
                    failed.append(exc)
                    raise
                urls.update(zip(names, found, strict=True))
            return urls[demo]

        yield url_of


def _promises(command: str) -> list[str]:
    """The ``"key": "value"`` fragments a trailing comment promises the answer holds."""
    _, _, comment = command.partition(" # ")
    return re.findall(r'"[^"]+": "[^"]*"', comment)


def _examples() -> list[tuple[str, str]]:
    return [(demo, item.text) for demo in docs_check.DEMOS for item in docs_check.curl_examples(demo)]


@pytest.mark.parametrize(("demo", "command"), _examples(), ids=[f"{d}:{c[5:70].strip()}" for d, c in _examples()])
def test_curl_example_answers_as_documented(served: Callable[[str], str], demo: str, command: str) -> None:
    argv = shlex.split(command.replace(docs_check.SEARCH_BASE, served(demo)), comments=True)
    argv += ["-sS", "-w", "\n%{http_code}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    assert status == "200", body
    if body.startswith("{"):
        answer = json.dumps(json.loads(body), ensure_ascii=False)
        for promise in _promises(command):
            assert promise in answer, f"{promise} not in {answer[:500]}"
