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


def test_rate_limit_needs_a_sample() -> None:
    budget = ErrorBudget(max_total=1000, max_consecutive=1000, max_rate=0.1)
    for _ in range(5):
        budget.fail()  # 100% of 5: too few to judge
    for _ in range(85):
        budget.ok()
    for _ in range(5):
        budget.fail()
    for _ in range(4):
        budget.ok()  # 10/99
    with pytest.raises(ErrorBudgetExceededError, match="rate"):
        budget.fail()  # 11/100
