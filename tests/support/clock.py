"""Drive the load lock's wall clock instead of waiting for it.

The lock compares ``expires_at`` with ``datetime.now(UTC)`` (hermes.load.lock); a test that needs its
TTL to pass moves that clock forward rather than sleeping through the TTL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import ClassVar

import pytest


class ShiftedClock(datetime):
    """``datetime`` whose ``now()`` runs ``offset`` ahead of the real clock."""

    offset: ClassVar[timedelta] = timedelta(0)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        return datetime.now(tz) + cls.offset

    @classmethod
    def advance(cls, seconds: float) -> None:
        """Time passes for the lock: ``seconds`` more than the real clock says."""
        cls.offset += timedelta(seconds=seconds)


def shift_lock_clock(monkeypatch: pytest.MonkeyPatch) -> type[ShiftedClock]:
    """Give the load lock a clock to move forward (a fresh class per test, so no offset leaks)."""
    clock = type("LockClock", (ShiftedClock,), {"offset": timedelta(0)})
    monkeypatch.setattr("hermes.load.lock.datetime", clock)
    return clock
