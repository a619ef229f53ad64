"""One slice of one partition of a full load: read from the checkpoint for at most ``HERMES_SLICE_S``,
write into the building index, checkpoint.

::

    checkpoint (cursor) ─▶ read_from() ─▶ cut() ─▶ pipeline.write() ─▶ building index's writer alias
                                        │ stops at the first page end past the slice's time,
                                        │ or mid-page past a grace period (a one-page source)
                                        ▼
                              cursor after the last record handed out ─▶ checkpoint

``cut`` runs in the prefetch thread: every record it hands out reaches the sink, which returns only
when each is acknowledged, so the saved cursor never passes a record that was not written. A slice
that dies before its checkpoint leaves the previous one; the next attempt re-reads from there and
meets its predecessor's writes again (external versions make them stale answers, counted as
``replayed``: hermes/load/finish.py's verification allows for them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hermes.load.budget import ErrorBudget
from hermes.load.checkpoints import Checkpoints, LoadRecord, PartitionRecord
from hermes.load.cursor import PAGE_END, Partition
from hermes.load.indices import writer_alias
from hermes.load.pipeline import write
from hermes.load.sink import Sink
from hermes.load.sources import SourceConfig, read_from
from hermes.load.state import State
from hermes.settings import Settings
from hermes.timestamps import format_rfc3339

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


@dataclass(frozen=True)
class SliceRef:
    """Which slice a hand-over event asks for (``slice`` None: whichever is due)."""

    load: str
    partition: int = 0
    slice: int | None = None


class SliceClock:
    """A slice's time: due after ``seconds`` (stop at the next page end), overdue a grace later (stop mid-page:
    a source answering in one body, or in huge pages, has no page end soon). The grace is a tenth of the
    slice, within 1 to 30 s."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.due_at = clock() + seconds
        self.overdue_at = self.due_at + min(30.0, max(1.0, seconds / 10))

    def due(self) -> bool:
        return self._clock() >= self.due_at

    def overdue(self) -> bool:
        return self._clock() >= self.overdue_at


def cut(records: Iterator[object], clock: SliceClock) -> Iterator[object]:
    """The records up to the slice's end (see the module docstring); page ends are dropped."""
    with closing(records):  # type: ignore[type-var]
        for item in records:
            if item is PAGE_END:
                if clock.due():
                    return
                continue
            yield item
            if clock.overdue():
                return


def run_slice(
    client: Elasticsearch,
    settings: Settings,
    load: LoadRecord,
    part: PartitionRecord,
    *,
    resumed: bool,
    clock: SliceClock | None = None,
) -> PartitionRecord:
    """Run the partition's next slice and checkpoint it; the partition as it now stands.

    The caller holds the partition's claim. Raises what the stream raises (the checkpoint stays).
    """
    cursor = replace(part.cursor, pages=0)
    records = read_from(SourceConfig.from_settings(settings), cursor, Partition(part.partition, load.partitions))
    budget = ErrorBudget.from_settings(settings)
    budget.seen, budget.failures = part.tally.read, part.tally.invalid + part.tally.failed
    sink = Sink(client, writer_alias(load.index), settings, budget=budget)
    outcome = write(sink, cut(records, clock or SliceClock(settings.slice_s)), settings, settings.field_schema)
    State(client, settings.state_index).add_dead_letters("full_load", outcome.dead_letters)
    done = replace(part, cursor=cursor, slice=part.slice + 1, running=None, pages=part.pages + cursor.pages)
    done.tally = replace(part.tally)
    done.tally.add(outcome, budget.seen - part.tally.read, resumed=resumed)
    Checkpoints(client, settings.state_index).save_partition(done)
    return done


def mark_running(books: Checkpoints, part: PartitionRecord) -> tuple[PartitionRecord, bool, int]:
    """Record that the partition's due slice starts; whether an attempt of it died before, and this one's number."""
    resumed = part.running is not None and int(part.running.get("slice", -1)) == part.slice
    attempt = int(part.running.get("attempt", 0)) + 1 if resumed and part.running else 1
    running = {"slice": part.slice, "attempt": attempt, "started_at": format_rfc3339(datetime.now(UTC))}
    started = replace(part, running=running)
    books.save_partition(started)
    return started, resumed, attempt
