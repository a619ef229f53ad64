"""``explain=true``: why each hit scored as it did, from Elasticsearch's explanation, trimmed for people.

Elasticsearch explains a score as a tree of every Lucene computation (BM25's idf, tf, norms, each
fuzzy expansion), dozens of nodes per hit. A person wants two things from it: which words in which fields
counted, and how much; and, when that is not enough, the outline of the sum. So each hit gets ``matches``
(every ``weight(field:text)`` that scored, largest first, at most :data:`MAX_MATCHES`) and ``details`` (the
tree cut to :data:`MAX_DEPTH` levels, the :data:`MAX_CHILDREN` largest children of each node, zero
contributions left out, descriptions shortened). Pure.

Cost: Elasticsearch computes an explanation per returned hit, so ``explain=true`` takes at most
:data:`EXPLAIN_MAX_SIZE` hits (400 naming ``explain`` otherwise); it is off by default.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from hermes.search.checks import EXPLAIN_MAX_SIZE

if TYPE_CHECKING:
    from hermes.search.models import Explanation, ExplanationNode, ScoredMatch

__all__ = ["EXPLAIN_MAX_SIZE", "readable"]
MAX_MATCHES = 10
MAX_DEPTH = 4
MAX_CHILDREN = 5
MAX_DESCRIPTION = 160
# Lucene's description of a term or phrase scoring in a field: `weight(content:"white whale" in 3) [...]`.
_WEIGHT = re.compile(r"weight\((?P<field>[^\s:()]+):(?P<text>.+?) in \d+\)")
# A constant-score leaf (a case-insensitive keyword term): `CaseInsensitiveTermQuery{isbn:979…}^5.0`.
_CONSTANT = re.compile(r"(?:^|[{(])(?P<field>[a-z][a-z0-9_.]*):(?P<text>[^\s{}()^]+)")


def readable(explanation: dict[str, Any]) -> Explanation:
    """The trimmed form of one hit's ``_explanation``."""
    matches = sorted(_matches(explanation), key=lambda m: -m["score"])
    return {
        "score": _number(explanation.get("value")),
        "matches": matches[:MAX_MATCHES],
        "details": _trim(explanation, MAX_DEPTH),
    }


def _match(node: dict[str, Any]) -> re.Match[str] | None:
    """The field and text of a node that is one word's or phrase's score in one field, if it is one."""
    description = str(node.get("description", ""))
    return _WEIGHT.search(description) or (None if node.get("details") else _CONSTANT.search(description))


# Elasticsearch before 8.12 describes a case-insensitive term (a searched keyword field) as its automaton.
AUTOMATON = "AutomatonQuery"
ANY_CASE = "(the exact value, in any case)"


def _matches(node: dict[str, Any]) -> list[ScoredMatch]:
    value = _number(node.get("value"))
    found = _match(node)
    if found is not None:
        text = ANY_CASE if found["text"].startswith(AUTOMATON) else found["text"]
        return [{"field": found["field"], "text": text, "score": value}] if value > 0 else []
    return [m for child in _children(node) for m in _matches(child)]


def _trim(node: dict[str, Any], depth: int) -> ExplanationNode:
    """The tree: a chain of single children of the same value is one node, a match is a leaf."""
    while (only := _children(node)) and len(only) == 1 and only[0].get("value") == node.get("value"):
        if _match(node) is not None:
            break
        node = only[0]
    found = _match(node)
    description = f"{found['field']}:{found['text']}" if found else str(node.get("description", ""))
    if len(description) > MAX_DESCRIPTION:
        description = description[: MAX_DESCRIPTION - 1] + "…"
    out: ExplanationNode = {"value": _number(node.get("value")), "description": description}
    children = _children(node)
    if depth > 1 and children and found is None:
        largest = sorted(children, key=lambda c: -abs(_number(c.get("value"))))[:MAX_CHILDREN]
        out["details"] = [_trim(c, depth - 1) for c in largest]
    return out


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The details that contributed (a zero is a filter or a clause that did not match)."""
    return [c for c in node.get("details", []) if isinstance(c, dict) and _number(c.get("value")) != 0]


def _number(value: Any) -> float:
    return round(float(value), 4) if isinstance(value, int | float) else 0.0
