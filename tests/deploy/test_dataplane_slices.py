"""Long full loads through Knative's own data plane: the hand-over as the chart wires it.

`hermes-dataplane --listen` (tests/dataplane) serves knative.dev/eventing's broker ingress on loopback, in
front of its filter and dispatcher holding the Triggers and delivery specs the chart renders, and runs
Knative's SinkBinding.Do on the full-load Service: the K_SINK it injects is what the full_load process
gets (its host mapped to the harness). One event is posted to the Broker, as the install Job or
`make full-load` would; every further slice comes from the function's own hand-over through the Broker and
the Trigger `hermes-full-load-continue`, with Knative's retries, timeouts and dead letters.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml

from hermes.client import build_client
from hermes.load.checkpoints import Checkpoints, LoadRecord
from hermes.load.events import CONTINUE, FULL_LOAD
from hermes.load.full import full_load
from hermes.settings import Settings
from tests.deploy.manifests import CHART, ROOT, run
from tests.support.datasource import SourceBehaviour, record, serve
from tests.support.loaders import loaders
from tests.support.process import eventually, free_port, kill_tree, running, started
from tests.support.settings import environ

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SLICE_S = 1
# One slice is ~SLICE_S: a source of PAGES pages at PAGE_DELAY_S each takes 5x that or more in one shot.
PAGES, PAGE_SIZE, PAGE_DELAY_S = 24, 10, 0.25
# Fast retries, still spanning a restarted process (0.5 s doubled 6 times: 31.5 s).
VALUES = [
    arg
    for value in (
        f"load.sliceSeconds={SLICE_S}",
        "broker.backoffDelay=PT0.1S",
        "broker.fullLoadBackoffDelay=PT0.5S",
        "broker.sliceBackoffDelay=PT0.5S",
    )
    for arg in ("--set", value)
]
BROKER_PATH = "/hermes/hermes"  # the Broker's address on the ingress: /<namespace>/<broker>


@pytest.fixture(scope="module")
def rendered(tools: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return render(tools, tmp_path_factory.mktemp("slices"))


def render(tools: Path, folder: Path, *values: str) -> tuple[Path, dict[str, str]]:
    """The chart rendered for short slices; its manifests file and the settings its ConfigMap gives."""
    out = run([str(tools / "helm"), "template", "hermes", str(CHART), "--namespace", "hermes", *VALUES, *values])
    assert out.returncode == 0, out.stderr
    path = folder / "rendered.yaml"
    path.write_text(out.stdout)
    config = next(d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "ConfigMap")["data"]
    keys = ("HERMES_SLICE_S", "HERMES_LOAD_PARTITIONS", "HERMES_GREEN_TIMEOUT_S")
    return path, {k: config[k] for k in keys}


@dataclass(frozen=True)
class Scene:
    """What every test here uses: the tools, the render, this test's alias and Elasticsearch, a folder."""

    tools: Path
    manifests: Path
    sliced: dict[str, str]  # the slice settings the render's ConfigMap gives the functions
    es_url: str
    settings: Settings
    tmp: Path
    sink_port: int  # where the harness serves the broker ingress

    @property
    def k_sink(self) -> str:
        """The K_SINK the full load gets: Knative's (checked in :func:`broker`), its host the harness."""
        return f"http://127.0.0.1:{self.sink_port}{BROKER_PATH}"

    def env(self, source_url: str, **extra: str) -> dict[str, str]:
        return environ(
            ES_URL=self.es_url,
            ES_INDEX=self.settings.es_index,
            DATA_SOURCE_URL=source_url,
            HERMES_FULL_PING_SOURCE="hermes-full",
            K_SINK=self.k_sink,
            **{**self.sliced, **extra},
        )


@pytest.fixture
def scene(tools: Path, rendered: tuple[Path, dict[str, str]], es_url: str, make_settings: Any, tmp_path: Path) -> Scene:
    return Scene(tools, rendered[0], rendered[1], es_url, make_settings(), tmp_path, free_port())


@dataclass
class Broker:
    """The harness while it serves: where to post events and the sink the full load gets."""

    url: str
    report: dict[str, Any] = field(default_factory=dict)

    def post(self, type_: str, data: dict[str, Any], *, source: str = "curl", id_: str | None = None) -> str:
        """Post one binary-mode CloudEvent to the Broker, as curl does; its id."""
        event_id = id_ or uuid.uuid4().hex
        headers = {"Ce-Specversion": "1.0", "Ce-Type": type_, "Ce-Source": source, "Ce-Id": event_id}
        resp = requests.post(self.url, json=data, headers=headers, timeout=30)
        assert resp.status_code == 202, resp.text  # the async channel took it
        return event_id

    def deliveries(self, trigger: str) -> list[dict[str, Any]]:
        return [d for d in self.report["deliveries"] if d["trigger"] == trigger]

    def dispatches(self, trigger: str) -> list[dict[str, Any]]:
        return [d for d in self.report["dispatches"] if d["trigger"] == trigger]


@contextmanager
def broker(scene: Scene, services: dict[str, str]) -> Iterator[Broker]:
    """Run the data plane until the block ends; then its report of everything that happened is read.

    Enter it after the functions start and leave it before they stop: on leaving, it lets the
    deliveries under way end."""
    ready, out, err = scene.tmp / "ready.json", scene.tmp / "report.json", scene.tmp / "dataplane.log"
    argv = [str(scene.tools / "hermes-dataplane"), "--manifests", str(scene.manifests), "--namespace", "hermes"]
    for name, url in services.items():
        argv += ["--service", f"{name}={url}"]
    argv += ["--listen", f"127.0.0.1:{scene.sink_port}", "--ready", str(ready)]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr)
    try:
        assert eventually(lambda: ready.exists() or proc.poll() is not None, 30), err.read_text()
        assert proc.poll() is None, err.read_text()
        info = json.loads(ready.read_text())
        env = {e["name"]: e.get("value", "") for e in info["bindings"]["hermes-full-load"]}
        # Knative's SinkBinding gives the full-load Service the Broker's address as K_SINK.
        assert env["K_SINK"] == f"http://broker-ingress.knative-eventing.svc.cluster.local{BROKER_PATH}"
        assert info["ingress"] + urlsplit(env["K_SINK"]).path == scene.k_sink
        found = Broker(url=scene.k_sink)
        yield found
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
    found.report = json.loads(out.read_text())


def _paged_source(pages: int = PAGES) -> SourceBehaviour:
    src = SourceBehaviour(fmt="pages", page_size=PAGE_SIZE, page_delay_s=PAGE_DELAY_S)
    src.put(*(record(f"r{i:04d}", f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", pages=i) for i in range(pages * 10)))
    return src


def _one_shot(src: SourceBehaviour, settings: Settings) -> dict[str, Any]:
    """The reference: ``src`` loaded in one request (``settings``: one long slice), in this process. Without the
    page delay: the same pages are read, and the delay is there only to make a sliced load stop mid-way."""
    src.page_delay_s = 0
    try:
        return dict(full_load(build_client(settings), settings))
    finally:
        src.page_delay_s = PAGE_DELAY_S


def _load(settings: Settings, event_id: str) -> LoadRecord | None:
    books = Checkpoints(build_client(settings), settings.state_index)
    return next((load for load in books.recent() if load.event_id == event_id), None)


def _ended(settings: Settings, event_id: str, wait_s: float = 120) -> LoadRecord:
    def check() -> LoadRecord | None:
        load = _load(settings, event_id)
        return load if load is not None and load.status not in ("running", "finishing") else None

    load = eventually(check, wait_s)
    assert load is not None, f"the load of event {event_id} did not end in {wait_s} s"
    return load  # type: ignore[no-any-return]


def documents(settings: Settings, index: str) -> dict[str, tuple[int, dict[str, Any]]]:
    """Every document of ``index``: id -> (external version, source)."""
    client = build_client(settings)
    client.indices.refresh(index=index)
    hits = client.search(index=index, size=10_000, version=True, query={"match_all": {}})["hits"]["hits"]
    return {h["_id"]: (h["_version"], h["_source"]) for h in hits}


def _served(settings: Settings) -> str:
    client = build_client(settings)
    (index,) = client.indices.get_alias(name=settings.es_index)
    return str(index)


def test_a_long_load_completes_by_itself_and_equals_a_one_shot_load(scene: Scene, make_settings: Any) -> None:
    settings = scene.settings
    with serve(_paged_source()) as (source_url, src):
        # The reference: the same source loaded in one request, in this process.
        one_shot = _one_shot(src, make_settings(DATA_SOURCE_URL=source_url, HERMES_SLICE_S=3600))
        reference = documents(settings, one_shot["index"])
        one_shot_reads = len(src.requests)
        assert one_shot_reads == PAGES  # one request per page: PAGES x PAGE_DELAY_S >= 5 x SLICE_S
        env = scene.env(source_url)
        with (
            loaders(env) as (delta, full),
            broker(scene, {"hermes-full-load": full, "hermes-delta-load": delta}) as kn,
        ):
            event_id = kn.post(FULL_LOAD, {"force": False})
            load = _ended(settings, event_id)
    assert load.status == "completed", load.error
    assert _served(settings) == load.index != one_shot["index"]
    # Every record, version and field as the one-shot load wrote them.
    assert documents(settings, load.index) == reference
    assert len(reference) == PAGES * PAGE_SIZE
    # The source was read once more, forward only: a slice that stopped mid-page (past its grace, the
    # page still arriving) left the next one that page again, from the record it stopped at.
    offsets = [_offset(path) for path in src.requests[one_shot_reads:]]
    assert offsets == sorted(offsets)
    assert set(offsets) == {_offset(path) for path in src.requests[:one_shot_reads]}
    (part,) = Checkpoints(build_client(settings), settings.state_index).partitions(load)
    assert part.slice >= 5  # the load took five slices or more, each one request
    assert len(offsets) - PAGES <= part.slice - 1
    assert (part.tally.created, part.tally.stale, part.tally.replayed) == (PAGES * PAGE_SIZE, 0, 0)
    # After the first event, every slice came through the Broker from the function's own hand-over.
    handed = kn.deliveries("hermes-full-load-continue")
    # One hand-over a slice after the first (and, on main, one more to the finishing step).
    assert part.slice - 1 <= len(handed) <= part.slice
    assert {d["status"] for d in handed} == {200}
    assert all(d["type"] == CONTINUE for d in handed)
    assert [d["status"] for d in kn.deliveries("hermes-full-load")] == [200]
    assert not any(d["dead_lettered"] for d in kn.report["dispatches"])


def _offset(url: str | None) -> int:
    if url is None:
        return PAGES * PAGE_SIZE
    return int(parse_qs(urlsplit(url).query).get("offset", ["0"])[0])


def test_a_slice_killed_mid_way_resumes_from_its_checkpoint_when_knative_redelivers(scene: Scene) -> None:
    settings = scene.settings
    books = Checkpoints(build_client(settings), settings.state_index)
    src = _paged_source()
    with serve(src) as (source_url, _):
        # A short lock TTL: the killed slice's claim on its partition expires within Knative's retries.
        env = scene.env(source_url, HERMES_LOCK_TTL_S="3")
        port = free_port()
        with running("delta_load", "delta_load", env) as delta:
            services = {"hermes-full-load": f"http://127.0.0.1:{port}", "hermes-delta-load": delta}
            with broker(scene, services) as kn:
                with started("full_load", "full_load", env, port=port) as (_, proc):
                    event_id = kn.post(FULL_LOAD, {})

                    def two_slices_done() -> Any:
                        load = _load(settings, event_id)
                        parts = books.partitions(load) if load else []
                        return parts and parts[0].slice >= 2 and parts[0]

                    assert eventually(two_slices_done, 60)
                    # Mid-slice: two more pages read after this point, the third held at the source.
                    src.pause_after = len(src.requests) + 2
                    assert eventually(lambda: len(src.requests) > (src.pause_after or 0), 30)
                    load = _load(settings, event_id)
                    assert load is not None
                    (at_kill,) = books.partitions(load)
                    assert at_kill.running is not None  # a slice is under way
                    kill_tree(proc)  # SIGKILL, as a node lost or an OOM kill
                    reads_before = len(src.requests)
                src.pause_after = None
                src.release()
                with started("full_load", "full_load", env, port=port):
                    ended = _ended(settings, event_id)
    assert ended.status == "completed", ended.error
    assert len(documents(settings, ended.index)) == PAGES * PAGE_SIZE
    # The source's request log: after the restart no page before the killed slice's checkpoint was read.
    resumed_from = _offset(at_kill.cursor.url)
    assert resumed_from > 0
    after_restart = [_offset(path) for path in src.requests[reads_before:]]
    assert after_restart[0] == resumed_from
    assert after_restart == sorted(after_restart)
    loaded = {_offset(path) for path in src.requests[:reads_before]} - {resumed_from}
    loaded = {o for o in loaded if o < resumed_from}  # the pages of the slices done before the kill
    assert len(loaded) >= 2
    assert not loaded & set(after_restart)  # none of them read again: only the killed slice's
    # Knative redelivered the killed slice's event: its first try failed (connection lost), a retry took it.
    (killed,) = [d for d in kn.dispatches("hermes-full-load-continue") if d["attempts"] > 1]
    assert killed["status"] == 200 and not killed["dead_lettered"]
    assert any(d["status"] == 502 for d in kn.deliveries("hermes-full-load-continue"))


def test_duplicate_deliveries_change_nothing(scene: Scene) -> None:
    settings = scene.settings
    client = build_client(settings)
    books = Checkpoints(client, settings.state_index)
    with serve(_paged_source(pages=12)) as (source_url, _):
        env = scene.env(source_url)
        with (
            loaders(env) as (delta, full),
            broker(scene, {"hermes-full-load": full, "hermes-delta-load": delta}) as kn,
        ):
            event_id = kn.post(FULL_LOAD, {}, id_="first-load")
            assert eventually(lambda: (load := _load(settings, event_id)) and books.partitions(load)[0].slice >= 2)
            load = _load(settings, event_id)
            assert load is not None
            # While the load runs: the first event again, and a hand-over of a slice already done.
            done_slice = {"load": load.id, "partition": 0, "slice": 1}
            kn.post(FULL_LOAD, {}, id_="first-load")
            kn.post(CONTINUE, done_slice, source="/hermes/full_load", id_=f"{load.id}-p0-s1")
            ended = _ended(settings, event_id)
            served, docs = _served(settings), documents(settings, ended.index)
            indices = sorted(client.indices.get(index=f"{settings.es_index}-*"))
            # After it: every event of the load again, the last hand-over included.
            (part,) = books.partitions(ended)
            last = {"load": load.id, "partition": 0, "slice": part.slice - 1}
            kn.post(FULL_LOAD, {}, id_="first-load")
            kn.post(CONTINUE, done_slice, source="/hermes/full_load", id_=f"{load.id}-p0-s1")
            kn.post(CONTINUE, last, source="/hermes/full_load", id_=f"{load.id}-p0-s{part.slice - 1}")
    assert ended.status == "completed", ended.error
    assert [load.id for load in books.recent()] == [ended.id]  # no second load
    assert _served(settings) == served
    assert sorted(client.indices.get(index=f"{settings.es_index}-*")) == indices
    assert documents(settings, ended.index) == docs
    assert len(docs) == 12 * PAGE_SIZE
    (after,) = books.partitions(ended)
    assert (after.slice, after.tally.created, after.tally.stale) == (part.slice, 12 * PAGE_SIZE, 0)
    # Each duplicate was answered (a 409 while its slice ran, retried), none dead-lettered.
    first = kn.deliveries("hermes-full-load")
    assert len(first) >= 3
    assert first[-1]["status"] == 200
    assert {d["status"] for d in first} <= {200, 409}
    assert all(d["status"] == 200 for d in kn.dispatches("hermes-full-load"))
    assert not any(d["dead_lettered"] for d in kn.report["dispatches"])


def _status(scene: Scene, source_url: str) -> dict[str, Any]:
    """What `python -m hermes status` prints, run as an operator would with the functions' settings."""
    out = subprocess.run(
        [sys.executable, "-m", "hermes", "status"],
        env={**scene.env(source_url), "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def test_a_slice_failing_for_good_is_dead_lettered_and_the_load_ends_cleanly(scene: Scene, make_settings: Any) -> None:
    # No process restarts here: Knative's retries of the doomed slice need not span one (0.1 s doubled 6 times).
    manifests, sliced = render(scene.tools, scene.tmp, "--set", "broker.sliceBackoffDelay=PT0.1S")
    scene = replace(scene, manifests=manifests, sliced=sliced)
    settings = scene.settings
    client = build_client(settings)
    books = Checkpoints(client, settings.state_index)
    src = _paged_source(pages=12)
    with serve(src) as (source_url, _):
        served = _one_shot(src, make_settings(DATA_SOURCE_URL=source_url, HERMES_SLICE_S=3600))["index"]
        docs = documents(settings, served)
        # Knative gives up before the function would (HERMES_SLICE_ATTEMPTS), on a source that stays down.
        env = scene.env(source_url, HERMES_SLICE_ATTEMPTS="50", HERMES_SOURCE_RETRIES="0")
        with (
            loaders(env) as (delta, full),
            broker(scene, {"hermes-full-load": full, "hermes-delta-load": delta}) as kn,
        ):
            event_id = kn.post(FULL_LOAD, {}, id_="doomed")
            assert eventually(lambda: (load := _load(settings, event_id)) and books.partitions(load)[0].slice >= 1)
            src.status = 500  # from the next slice on, for good
            ended = _ended(settings, event_id)
            shown = _status(scene, source_url)
    assert ended.status == "failed"
    assert "dead-lettered" in (ended.error or "")
    # Nothing served changed; the building index is gone; the lock is free.
    assert _served(settings) == served
    assert documents(settings, served) == docs
    assert not client.indices.exists(index=ended.index)
    assert shown["lock"] is None
    assert shown["serving"] == [served]
    assert shown["loads"][0]["load"] == ended.id
    assert shown["loads"][0]["status"] == "failed"
    assert shown["undelivered_events"]["total"] == 1
    (kept,) = shown["undelivered_events"]["newest"]
    assert kept["event_type"] == CONTINUE
    # Knative tried the slice 1 + broker.sliceRetry (6) times, then sent it to the dead-letter Broker.
    (dead,) = [d for d in kn.dispatches("hermes-full-load-continue") if d["dead_lettered"]]
    assert dead["attempts"] == 7
    assert dead["status"] >= 500
    assert [d["status"] for d in kn.deliveries("hermes-undelivered")] == [204]


def test_four_partitions_through_the_broker_build_the_index_one_partition_builds(
    scene: Scene, make_settings: Any
) -> None:
    manifests, sliced = render(
        scene.tools, scene.tmp, "--set", "load.partitions=4", "--set", "functions.fullLoad.scaling.maxScale=4"
    )
    assert sliced["HERMES_LOAD_PARTITIONS"] == "4"
    fanned = replace(scene, manifests=manifests, sliced=sliced)
    settings = scene.settings
    books = Checkpoints(build_client(settings), settings.state_index)
    with serve(_paged_source()) as (source_url, src):
        one = _one_shot(src, make_settings(DATA_SOURCE_URL=source_url, HERMES_SLICE_S=3600))
        reference = documents(settings, one["index"])
        env = fanned.env(source_url)
        with (
            loaders(env) as (delta, full),
            broker(fanned, {"hermes-full-load": full, "hermes-delta-load": delta}) as kn,
        ):
            event_id = kn.post(FULL_LOAD, {})
            load = _ended(settings, event_id)
    assert load.status == "completed", load.error
    assert load.partitions == 4
    assert _served(settings) == load.index
    assert documents(settings, load.index) == reference
    parts = books.partitions(load)
    assert [p.partition for p in parts] == [0, 1, 2, 3]
    assert sum(p.tally.created for p in parts) == len(reference)
    assert all(p.tally.created > 0 for p in parts)
    # Each partition read its own pages: ?partition=<i>&partitions=4 on every request of the load.
    asked = {parse_qs(urlsplit(path).query).get("partition", ["-"])[0] for path in src.requests[PAGES:]}
    assert asked == {"0", "1", "2", "3"}
    # Partitions 1-3 started from hand-overs through the Broker, like every later slice.
    handed = kn.deliveries("hermes-full-load-continue")
    assert {d["status"] for d in handed} <= {200, 409}
    assert not any(d["dead_lettered"] for d in kn.report["dispatches"])
