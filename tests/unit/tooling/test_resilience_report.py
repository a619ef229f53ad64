"""docs/resilience.md's renderer: verdicts, evidence and failures as the report shows them."""

from __future__ import annotations

from types import SimpleNamespace

from tests.resilience.report import Scenario, render


def _rep(outcome: str, duration: float = 1.0, longrepr: object = None) -> SimpleNamespace:
    return SimpleNamespace(
        failed=outcome == "failed", skipped=outcome == "skipped", duration=duration, longrepr=longrepr
    )


def test_a_failure_in_any_phase_fails_the_scenario_and_shows_its_assertion() -> None:
    s = Scenario("tests/resilience/test_x.py::test_a", "Group", "A claim holds", "Why.")
    s.add(_rep("passed"), ["measured 1"])
    s.add(_rep("failed", longrepr="trace\nE   assert 1 == 2\nE    +  where"), ["measured 1", "measured 2"])
    text = render([s], command="make resilience", es_version="8.19.21", seconds=60, full=True)
    assert "**0 of 1 scenarios pass, 1 fail.**" in text
    assert "| [A claim holds](#a-claim-holds) | FAIL | 2 s |" in text
    assert "- measured 2" in text
    assert "assert 1 == 2" in text
    assert "trace" not in text


def test_a_skip_says_why() -> None:
    s = Scenario("n", "Group", "Big one", "")
    s.add(_rep("skipped", longrepr=("f", 1, "Skipped: make resilience only")), [])
    text = render([s], command="make resilience", es_version="9.5.4", seconds=1, full=False)
    assert "**SKIP**" in text
    assert "make resilience only" in text
    assert "**0 of 1 scenarios pass, 0 fail.**" in text
