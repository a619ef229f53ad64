"""Tests are filed by the component they check and named by behaviour, never by a work item."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
AREAS = {"core", "search", "load", "tooling"}
# A reference to a numbered work item (the word, a space, a number), or a test named after one.
WORK_ITEM = re.compile(r"\b(issues?|items?)\s+\d|\btest_item\d", re.IGNORECASE)


def test_unit_and_integration_tests_live_in_an_area_folder() -> None:
    for tier in ("unit", "integration"):
        misplaced = [
            str(path.relative_to(ROOT))
            for path in (ROOT / "tests" / tier).rglob("test_*.py")
            if path.parent.relative_to(ROOT / "tests" / tier).parts[:1] not in {(area,) for area in AREAS}
        ]
        assert misplaced == [], f"file these under tests/{tier}/<{'|'.join(sorted(AREAS))}>/"


def test_no_test_names_a_work_item() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WORK_ITEM.search(line)
    ]
    assert found == [], "say the behaviour instead:\n" + "\n".join(found)
