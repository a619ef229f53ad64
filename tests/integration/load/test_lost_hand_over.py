"""A slice whose hand-over to K_SINK failed answers 503 (hermes/load/handover.py); Knative redelivers its
event, which finds the slice's work checkpointed and must send the hand-over again, or nobody ever asks
for the next slice and the load stalls with its lock held."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from hermes.client import build_client
from hermes.errors import UnavailableError
from hermes.load.checkpoints import Checkpoints
from hermes.load.full import resume, start
from hermes.load.slices import SliceRef
from hermes.settings import Settings
from tests.support.datasource import SourceBehaviour, record

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(make_settings: Any, source: tuple[str, SourceBehaviour]) -> Settings:
    source[1].fmt, source[1].page_size = "pages", 5
    source[1].put(*(record(f"r{i:03d}", f"2026-01-01T00:00:{i:02d}Z") for i in range(20)))
    # A slice is due at once: each stops at its first page end (one page a slice).
    return make_settings(DATA_SOURCE_URL=source[0], HERMES_SOURCE_RETRIES=0, HERMES_SLICE_S=0.001)  # type: ignore[no-any-return]


def _refused(ref: SliceRef) -> None:
    msg = "K_SINK refused the hand-over with HTTP 503; the slice's event will be redelivered"
    raise UnavailableError(msg)


def _drive(settings: Settings, due: deque[SliceRef]) -> Any:
    report: Any = None
    while due:
        report = resume(build_client(settings), settings, due.popleft(), due.append)
    return report


def test_a_redelivered_slice_whose_hand_over_failed_hands_over_again(es: Any, settings: Settings) -> None:
    due: deque[SliceRef] = deque()
    assert start(build_client(settings), settings, due.append)["status"] == "continuing"
    (handed,) = due
    # Slice 1 runs, checkpoints, and its hand-over of slice 2 is refused: the slice answers 503.
    with pytest.raises(UnavailableError):
        resume(build_client(settings), settings, due.popleft(), _refused)
    books = Checkpoints(es, settings.state_index)
    load = books.load(handed.load)
    assert load is not None
    (part,) = books.partitions(load)
    assert (part.slice, part.done, part.running) == (2, False, None)
    # Knative redelivers slice 1's event: it asks for slice 2 again, and the load goes on to the end.
    again = resume(build_client(settings), settings, handed, due.append)
    assert again["status"] == "duplicate"
    assert list(due) == [SliceRef(load.id, 0, 2)]
    assert _drive(settings, due)["status"] == "completed"
