"""The error budget of a load: total, consecutive and rate limits on failures."""

from __future__ import annotations

from dataclasses import dataclass

from hermes.errors import ErrorBudgetExceededError
from hermes.settings import Settings

_RATE_MIN_SAMPLE = 100


@dataclass
class ErrorBudget:
    """Counts outcomes and raises once failures cross any limit.

    The failure rate is failures over records *read*: a record counts as seen when it is
    taken from the source, not when its bulk answer arrives, so invalid records (which
    fail at once) are not compared with only the successes already acknowledged. For the
    same reason a valid record read ends a row of consecutive failures.
    """

    max_total: int
    max_consecutive: int
    max_rate: float
    seen: int = 0
    failures: int = 0
    consecutive: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ErrorBudget:
        """The budget ``HERMES_MAX_FAILURES`` / ``_CONSECUTIVE_FAILURES`` / ``_FAILURE_RATE`` describe."""
        return cls(settings.max_failures, settings.max_consecutive_failures, settings.max_failure_rate)

    def read(self, *, valid: bool) -> None:
        """One record taken from the source; a valid one ends a row of failures (rows follow reading order)."""
        self.seen += 1
        if valid:
            self.consecutive = 0

    def ok(self) -> None:
        """One record applied (or skipped as stale)."""
        self.consecutive = 0

    def fail(self) -> None:
        """One record failed (invalid, or refused by Elasticsearch); raise if the budget is now exceeded."""
        self.failures += 1
        self.consecutive += 1
        if self.failures > self.max_total:
            self._exceeded(f"{self.failures} failures (max {self.max_total})")
        if self.consecutive > self.max_consecutive:
            self._exceeded(f"{self.consecutive} consecutive failures (max {self.max_consecutive})")
        rate = self.failures / max(self.seen, 1)
        if self.seen >= _RATE_MIN_SAMPLE and rate > self.max_rate:
            self._exceeded(f"failure rate {rate:.1%} (max {self.max_rate:.1%})")

    @staticmethod
    def _exceeded(detail: str) -> None:
        msg = f"error budget exceeded: {detail}"
        raise ErrorBudgetExceededError(msg)
