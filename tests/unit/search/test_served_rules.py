"""The served rules' cache: read once a period, no index is no rules, a broken index keeps the last (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from hermes.client import ElasticsearchStatusError
from hermes.search.served_rules import ServedRules

TV = {"id": "tv", "type": "synonyms", "terms": ["tv", "television"]}


class Reader:
    """Answers ``search`` like hermes.search.reader.Reader, from a script of answers."""

    def __init__(self, *answers: Any) -> None:
        self.answers, self.calls = list(answers), 0

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {"hits": {"hits": [{"_source": s} for s in answer]}}


def test_rules_are_read_again_once_the_period_has_passed() -> None:
    now = [0.0]
    reader = Reader(ElasticsearchStatusError(404, {}), [TV])
    served = ServedRules(refresh_s=10, clock=lambda: now[0])
    assert served.get(reader, "a.hermes-rules").rules == ()  # type: ignore[arg-type]  # no index: no rules
    now[0] = 9.99
    assert served.get(reader, "a.hermes-rules").rules == ()  # type: ignore[arg-type]
    assert reader.calls == 1
    now[0] = 10.0
    assert [r.id for r in served.get(reader, "a.hermes-rules").rules] == ["tv"]  # type: ignore[arg-type]


def test_an_unreadable_index_keeps_the_last_rules_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    reader = Reader([TV], ElasticsearchStatusError(403, {}), ElasticsearchStatusError(503, {}))
    served = ServedRules(refresh_s=0)
    for _ in range(3):
        assert [r.id for r in served.get(reader, "a.hermes-rules").rules] == ["tv"]  # type: ignore[arg-type]
    assert caplog.text.count("relevance rules unreadable") == 2
    assert ServedRules(0).get(Reader(ElasticsearchStatusError(403, {})), "x").rules == ()  # type: ignore[arg-type]


def test_a_stored_document_that_is_not_a_rule_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    served = ServedRules(refresh_s=0)
    rules = served.get(Reader([TV, {"id": "bad", "type": "synonyms", "terms": ["one"]}]), "x")  # type: ignore[arg-type]
    assert [r.id for r in rules.rules] == ["tv"]
    assert "rule bad: terms must be a list" in caplog.records[0].problem
