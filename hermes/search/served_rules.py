"""The relevance rules the search function applies, read from ``<ES_INDEX>.hermes-rules`` and kept
``HERMES_RULES_REFRESH_S`` seconds, as the served schema is (:mod:`hermes.search.served`): one small request
per period, and a rule change shows in search within one period, with no load.

No rules index (no rule was ever set) is an empty set. Without the privilege to read it (403), or when
Elasticsearch refuses the read (an unassigned shard), searches go on with the last rules read (none at
first) and a warning is logged each period: a broken rules index must not stop search. A stored
document that is not a valid rule (written by hand) is skipped with a warning.

Request threads share one :class:`ServedRules`; each replaces the cached entry whole (one assignment).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from hermes.client import ElasticsearchStatusError
from hermes.search.reader import Reader
from hermes.search.rules import EMPTY_RULES, MAX_RULES, RuleSet, parse_stored

log = logging.getLogger(__name__)
_READ = {"size": MAX_RULES, "query": {"match_all": {}}, "sort": ["_doc"]}


class ServedRules:
    """The rules of one rules index, read again after ``refresh_s`` seconds (0: every search)."""

    def __init__(self, refresh_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_s, self.clock = refresh_s, clock
        self._entry: tuple[float, RuleSet] | None = None

    def get(self, reader: Reader, index: str) -> RuleSet:
        entry = self._entry
        now = self.clock()
        if entry is not None and now - entry[0] < self.refresh_s:
            return entry[1]
        try:
            found = reader.search(index, _READ)
        except ElasticsearchStatusError as exc:
            if exc.status == 404:
                rules = EMPTY_RULES
            else:
                log.warning("relevance rules unreadable: serving the last ones read", extra={"index": index})
                rules = entry[1] if entry is not None else EMPTY_RULES
            self._entry = (now, rules)
            return rules
        rules, problems = parse_stored(h.get("_source") for h in found["hits"]["hits"])
        for problem in problems:
            log.warning("stored relevance rule skipped", extra={"index": index, "problem": problem})
        self._entry = (now, rules)
        return rules
