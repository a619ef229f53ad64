from __future__ import annotations

import pytest

from hermes.errors import ErrorBudgetExceededError
from hermes.load.budget import ErrorBudget


def test_total_limit() -> None:
    budget = ErrorBudget(max_total=2, max_consecutive=100, max_rate=1.0)
    budget.fail()
    budget.ok()
    budget.fail()
    with pytest.raises(ErrorBudgetExceededError, match="3 failures"):
        budget.fail()


def test_consecutive_limit_resets_on_success() -> None:
    budget = ErrorBudget(max_total=100, max_consecutive=2, max_rate=1.0)
    budget.fail()
    budget.fail()
    budget.ok()
    budget.fail()
    budget.fail()
    with pytest.raises(ErrorBudgetExceededError, match="consecutive"):
        budget.fail()


def _outcome(budget: ErrorBudget, ok: bool) -> None:
    budget.read(valid=True)
    if ok:
        budget.ok()
    else:
        budget.fail()


def test_rate_limit_needs_a_sample() -> None:
    budget = ErrorBudget(max_total=1000, max_consecutive=1000, max_rate=0.1)
    for _ in range(5):
        _outcome(budget, ok=False)  # 100% of 5: too few to judge
    for _ in range(85):
        _outcome(budget, ok=True)
    for _ in range(5):
        _outcome(budget, ok=False)
    for _ in range(4):
        _outcome(budget, ok=True)  # 10/99
    with pytest.raises(ErrorBudgetExceededError, match="rate"):
        _outcome(budget, ok=False)  # 11/100


def test_rate_counts_records_read_not_only_acknowledged() -> None:
    # 2,000 records read ahead, 5% of them invalid (failing at once), no bulk answer back yet:
    # the rate is 5%, not 100%.
    budget = ErrorBudget(max_total=1000, max_consecutive=1000, max_rate=0.1)
    for n in range(2000):
        budget.read(valid=n % 20 != 0)
        if n % 20 == 0:
            budget.fail()
    assert (budget.failures, budget.consecutive) == (100, 0)
