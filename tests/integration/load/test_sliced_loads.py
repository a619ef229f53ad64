"""Full loads in slices, with checkpoints, hand-overs and partitions, on a real Elasticsearch and a real
HTTP source. The hand-over here is a list the test drives (the function's own, over HTTP, is tested
with the function process and through Knative's data plane in tests/deploy)."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hermes.client import build_client
from hermes.errors import ErrorBudgetExceededError, LoadFailedError, SourceError, VerificationError
from hermes.load import indices
from hermes.load.checkpoints import Checkpoints
from hermes.load.full import cancel, full_load, give_up, resume, start
from hermes.load.lock import LoadLock
from hermes.load.slices import SliceRef
from hermes.operator.loads import status
from hermes.settings import Settings
from tests.support.datasource import SourceBehaviour, record

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _records(n: int) -> list[dict[str, Any]]:
    return [record(f"r{i:03d}", T0 + timedelta(minutes=i), tags=[f"t{i % 3}"]) for i in range(n)]


@pytest.fixture
def paged(source: tuple[str, SourceBehaviour]) -> SourceBehaviour:
    behaviour = source[1]
    behaviour.fmt, behaviour.page_size = "pages", 5
    behaviour.put(*_records(20))  # 4 pages: the size is not what these tests check
    return behaviour


@pytest.fixture
def settings(make_settings: Any, source: tuple[str, SourceBehaviour]) -> Settings:
    # A slice is due at once: each stops at its first page end (one page a slice).
    return make_settings(  # type: ignore[no-any-return]
        DATA_SOURCE_URL=source[0], HERMES_PRUNE_GRACE_S=0, HERMES_SOURCE_RETRIES=0, HERMES_SLICE_S=0.001
    )


def _in_one_slice(settings: Settings) -> Settings:
    """The same load in one slice: where a load is only the scene (a served index, a reference to compare
    with), not what the test slices."""
    return settings.model_copy(update={"slice_s": 300.0})


def _documents(es: Any, index: str) -> dict[str, tuple[int, dict[str, Any]]]:
    hits = es.search(index=index, size=1000, version=True, query={"match_all": {}})["hits"]["hits"]
    return {h["_id"]: (h["_version"], h["_source"]) for h in hits}


def _drive(client: Any, settings: Settings, due: deque[SliceRef]) -> Any:
    report: Any = None
    while due:
        report = resume(client, settings, due.popleft(), due.append)
    return report


def test_a_load_in_many_slices_equals_a_one_shot_load(es: Any, settings: Settings, paged: SourceBehaviour) -> None:
    one_shot = full_load(build_client(settings), _in_one_slice(settings))
    expected = _documents(es, one_shot["index"])
    sliced = full_load(build_client(settings), settings, force=True)
    assert sliced["status"] == "completed"
    assert (sliced["indexed"], sliced["skipped"], sliced["failed"]) == (20, 0, 0)
    assert _documents(es, sliced["index"]) == expected  # record by record, versions included
    load = Checkpoints(es, settings.state_index).recent(1)[0]
    (part,) = Checkpoints(es, settings.state_index).partitions(load)
    assert part.slice >= 4  # 4 pages, one a slice, then the end
    assert indices.indices_behind(es, settings.es_index) == [sliced["index"]]


def test_a_first_slice_answers_continuing_and_hands_over(es: Any, settings: Settings, paged: SourceBehaviour) -> None:
    due: deque[SliceRef] = deque()
    first = start(build_client(settings), settings, due.append)
    assert first["status"] == "continuing"
    assert first["indexed"] == 5
    assert list(due) == [SliceRef(first["load"], 0, 1)]
    assert LoadLock(es, settings.state_index, 60).current() is not None  # kept between slices
    assert indices.indices_behind(es, settings.es_index) == []  # nothing served until the swap
    assert _drive(build_client(settings), settings, due)["status"] == "completed"
    assert LoadLock(es, settings.state_index, 60).current() is None


def test_a_slice_that_dies_resumes_from_its_checkpoint(es: Any, settings: Settings, paged: SourceBehaviour) -> None:
    due: deque[SliceRef] = deque()
    client = build_client(settings)
    start(client, settings, due.append)  # page 1 loaded and checkpointed
    paged.status = 500  # the next slice dies in its source
    with pytest.raises(SourceError):
        resume(client, settings, due[0], due.append)
    paged.status = 200
    paged.requests.clear()
    report = _drive(client, settings, due)  # the redelivery of the same slice
    assert report["status"] == "completed"
    assert report["indexed"] == 20
    assert not any(path.endswith("/records") for path in paged.requests)  # the first page was not read again
    assert sum("offset=5" in path for path in paged.requests) == 1


def test_duplicate_deliveries_read_nothing_and_repair_a_lost_hand_over(
    es: Any, settings: Settings, paged: SourceBehaviour
) -> None:
    due: deque[SliceRef] = deque()
    client = build_client(settings)
    first = start(client, settings, due.append)
    ref = due.popleft()
    assert resume(client, settings, ref, lambda _: None)["status"] == "continuing"  # its hand-over is lost
    paged.requests.clear()
    again = resume(client, settings, ref, due.append)  # the redelivery of slice 1
    assert again["status"] == "duplicate"
    assert paged.requests == []
    assert list(due) == [SliceRef(first["load"], 0, 2)]  # the lost hand-over, sent again
    assert resume(client, settings, SliceRef(first["load"], 0, 0), due.append)["status"] == "duplicate"
    assert len(due) == 1  # an older slice's duplicate sends nothing
    assert _drive(client, settings, due)["indexed"] == 20


def test_a_partition_whose_last_slice_died_before_joining_is_joined_by_the_redelivery(
    es: Any, settings: Settings, paged: SourceBehaviour, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hermes.load import full

    due: deque[SliceRef] = deque()
    client = build_client(_in_one_slice(settings))
    joins = full.join_finished

    def dies_once(*args: Any) -> Any:
        monkeypatch.setattr(full, "join_finished", joins)
        raise ConnectionError("the pod died between the checkpoint and the join")

    monkeypatch.setattr(full, "join_finished", dies_once)
    loading = _in_one_slice(settings)
    with pytest.raises(ConnectionError):
        start(client, loading, due.append)
    (load,) = Checkpoints(es, settings.state_index).recent(1)
    assert (load.status, load.done) == ("running", [])
    report = resume(client, loading, SliceRef(load.id, 0, 0), due.append)  # Knative redelivers the event
    assert (report["status"], report["indexed"]) == ("completed", 20)


def test_a_slice_that_fails_for_good_ends_the_load_cleanly(
    es: Any, make_settings: Any, settings: Settings, paged: SourceBehaviour
) -> None:
    served = full_load(build_client(settings), _in_one_slice(settings))["index"]
    strict = settings.model_copy(update={"max_failures": 0})
    paged.put(*({"id": f"r{i:03d}", "updated_at": "not a time"} for i in range(20, 25)))  # page 5 is invalid
    due: deque[SliceRef] = deque()
    client = build_client(strict)
    first = start(client, strict, due.append)
    with pytest.raises(ErrorBudgetExceededError):
        _drive(client, strict, due)
    assert indices.indices_behind(es, settings.es_index) == [served]
    assert set(indices.managed_indices(es, settings.es_index)) == {served}  # the building index is gone
    assert LoadLock(es, settings.state_index, 60).current() is None
    (latest, *_) = status(es, settings)["loads"]
    assert (latest["load"], latest["status"]) == (first["load"], "failed")
    assert "error budget" in latest["error"]
    with pytest.raises(LoadFailedError, match="error budget"):  # retried, then dead-lettered with its reason
        resume(client, strict, SliceRef(first["load"], 0, None), due.append)


@pytest.mark.parametrize("honoured", [True, False])
def test_partitions_give_the_same_index_as_one(
    es: Any, settings: Settings, paged: SourceBehaviour, *, honoured: bool
) -> None:
    one = full_load(build_client(settings), _in_one_slice(settings))
    expected = _documents(es, one["index"])
    paged.honour_partitions = honoured
    four = settings.model_copy(update={"load_partitions": 4})
    if not honoured:  # every partition gets everything: caught before the swap, nothing served changes
        paged.page_size = 20  # each partition reads the whole source: in one page rather than 4
        with pytest.raises(VerificationError, match="more than one of the 4 partitions"):
            full_load(build_client(four), four, force=True)
        assert indices.indices_behind(es, settings.es_index) == [one["index"]]
        return
    report = full_load(build_client(four), four, force=True)
    assert _documents(es, report["index"]) == expected
    assert {p for p in paged.requests if "partition=" in p and "offset" not in p} == {
        f"/records?partition={i}&partitions=4" for i in range(4)
    }


def test_a_running_load_can_be_cancelled(es: Any, settings: Settings, paged: SourceBehaviour) -> None:
    due: deque[SliceRef] = deque()
    client = build_client(settings)
    first = start(client, settings, due.append)
    (running, *_) = status(es, settings)["loads"]
    assert (running["status"], running["records_so_far"]) == ("running", 5)
    assert cancel(client, settings)["status"] == "cancelled"
    assert not es.indices.exists(index=first["index"])
    assert LoadLock(es, settings.state_index, 60).current() is None
    assert resume(client, settings, due.popleft(), due.append)["status"] == "cancelled"
    assert full_load(client, _in_one_slice(settings))["status"] == "completed"  # the next load is free to run


def test_a_dead_letter_ends_the_load_only_for_its_due_slice(
    es: Any, settings: Settings, paged: SourceBehaviour
) -> None:
    due: deque[SliceRef] = deque()
    client = build_client(settings)
    first = start(client, settings, due.append)
    resume(client, settings, due.popleft(), lambda _: None)  # slice 1 ran: slice 2 is due
    assert not give_up(client, settings, SliceRef(first["load"], 0, 1), "a duplicate's retries ran out")
    assert Checkpoints(es, settings.state_index).recent(1)[0].status == "running"
    assert give_up(client, settings, SliceRef(first["load"], 0, 2), "the due slice was dead-lettered")
    (ended,) = Checkpoints(es, settings.state_index).recent(1)
    assert (ended.status, ended.error) == ("failed", "the due slice was dead-lettered")
    assert not es.indices.exists(index=first["index"])
    assert LoadLock(es, settings.state_index, 60).current() is None
