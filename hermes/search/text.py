"""The text part of a search, built from a parsed ``q`` (:mod:`hermes.search.syntax`) and the served schema.

Pure; user text only fills ``query`` and ``value`` slots of fixed clauses (``multi_match``, ``term``), never
``query_string``. How each part of ``q`` matches:

- free words: any of them, in every searched text field; typo tolerant (``fuzziness: AUTO``) in the fields
  that allow typos, as typed in those declared ``"typos": false``; a number-like word (``2019``,
  ``978-0-14-243724-7``) is never fuzzy and matches as a phrase (its digit groups in order);
- phrases: each must be found, words next to each other in that order, no typos;
- exclusions: a document containing any excluded word (or its possessive: ``-captain`` also excludes
  "captain's", one token for the standard analyzer) or excluded phrase is never a hit;
- searched keyword fields (``"search": true`` on a keyword, e.g. SKUs and ISBNs) match a free word or a
  phrase exactly (case aside), never fuzzily, with their boost.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hermes.search.syntax import ParsedQuery, number_like

if TYPE_CHECKING:
    from hermes.schema import Schema

# Typo tolerance for queries of up to this many words. Each fuzzy term expands to up to 50 terms per
# field. A longer query is pasted text, matched word for word.
FUZZY_MAX_TERMS = 6
# Free words matched against searched keyword fields, per query (the first ones): a bound on clauses.
KEYWORD_MAX_WORDS = 16
_WORD = re.compile(r"\w+")
_POSSESSIVE = ("'s", "’s")  # noqa: RUF001 - the typographic apostrophe is the point


def words(q: str) -> int:
    """How many terms the standard analyzer makes of ``q``: ``a-b-c`` is three, as typo tolerance sees it."""
    return len(_WORD.findall(q))


def fuzzy_terms(parsed: ParsedQuery) -> int:
    """How many terms typo tolerance would expand: those of the free words that are not number-like."""
    return _partition(parsed.words)[2]


@dataclass(frozen=True)
class Searched:
    """The fields text matches, with their boosts (``"title^3"``), by how they match."""

    typos: tuple[str, ...]  # text fields that tolerate typos
    exact: tuple[str, ...]  # text fields declared "typos": false
    keywords: tuple[tuple[str, float | None], ...]  # keyword fields declared "search": true

    @property
    def text(self) -> list[str]:
        """Every searched text field."""
        return [*self.typos, *self.exact]


def searched(schema: Schema) -> Searched:
    """The core text fields, then the declared ``search`` fields, grouped by how they match."""
    core = schema.core
    boosts = {"title": core.title.boost or 3, "content": core.content.boost, "tags": core.tags.boost}
    typos = [_boosted(n, b) for n, b in boosts.items()]
    exact: list[str] = []
    keywords: list[tuple[str, float | None]] = []
    for name, spec in schema.fields.items():
        if not spec.search:
            continue
        if spec.type == "keyword":
            keywords.append((name, spec.boost))
        else:
            (typos if spec.typos else exact).append(_boosted(name, spec.boost))
    return Searched(tuple(typos), tuple(exact), tuple(keywords))


def _boosted(name: str, boost: float | None) -> str:
    return f"{name}^{boost:g}" if boost else name


def text_query(
    parsed: ParsedQuery, fields: Searched, *, fuzzy: bool = True, every_word: bool = False
) -> dict[str, Any]:
    """The query ``parsed`` asks for. ``fuzzy=False``: no typo tolerance anywhere (the cheap form);
    ``every_word``: each free word must be found as typed, in one text field (a scoped count)."""
    if parsed.match_all or parsed.exclusions_only:
        positive: dict[str, Any] = {"match_all": {}}
    elif parsed.empty:
        return {"match_none": {}}
    else:
        positive = positive_query(parsed, fields, fuzzy=fuzzy, every_word=every_word)
    excluded = exclusions(parsed, fields)
    return {"bool": {"must": [positive], "must_not": excluded}} if excluded else positive


def positive_query(
    parsed: ParsedQuery, fields: Searched, *, fuzzy: bool = True, every_word: bool = False
) -> dict[str, Any]:
    """What a hit must match (free words, phrases), without the exclusions: also the highlight query."""
    required = [_phrase(p, fields) for p in parsed.phrases]
    if parsed.words and not parsed.match_all:
        required.insert(0, _free(parsed.words, fields, fuzzy=fuzzy, every_word=every_word))
    if not required:
        return {"match_none": {}}
    return required[0] if len(required) == 1 else {"bool": {"must": required}}


def exclusions(parsed: ParsedQuery, fields: Searched) -> list[dict[str, Any]]:
    """One ``must_not`` clause per excluded form."""
    out: list[dict[str, Any]] = []
    for word in parsed.excluded_words:
        forms = [word, *(word + p for p in _POSSESSIVE)] if word[-1:].isalpha() else [word]
        out += [_match_phrase(form, fields.text) for form in forms] + _keyword_terms(word, fields)
    for phrase in parsed.excluded_phrases:
        out += [_match_phrase(phrase, fields.text), *_keyword_terms(phrase, fields)]
    return out


def _free(words_: tuple[str, ...], fields: Searched, *, fuzzy: bool, every_word: bool) -> dict[str, Any]:
    if every_word:
        every = _multi_match(" ".join(words_), fields.text)
        every["multi_match"]["operator"] = "and"
        return every
    text, numbers, terms = _partition(words_)
    clauses: list[dict[str, Any]] = []
    if text:
        typos = fuzzy and bool(fields.typos) and terms <= FUZZY_MAX_TERMS
        if typos:
            clauses.append(_multi_match(text, list(fields.typos), fuzzy=True))
            if fields.exact:
                clauses.append(_multi_match(text, list(fields.exact)))
        else:
            clauses.append(_multi_match(text, fields.text))
    clauses += [_match_phrase(n, fields.text) for n in numbers]
    for word in dict.fromkeys(words_[:KEYWORD_MAX_WORDS]):
        clauses += _keyword_terms(word, fields)
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses}}


@functools.lru_cache(maxsize=256)
def _partition(words_: tuple[str, ...]) -> tuple[str, tuple[str, ...], int]:
    """The free words that may take typos (as one text, and its term count) and the number-like ones; cached:
    one search builds its query and up to three highlight queries from the same words."""
    plain = " ".join(w for w in words_ if not number_like(w))
    return plain, tuple(w for w in words_ if number_like(w)), words(plain)


def _phrase(phrase: str, fields: Searched) -> dict[str, Any]:
    clauses = [_match_phrase(phrase, fields.text), *_keyword_terms(phrase, fields)]
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses}}


def _multi_match(text: str, fields: list[str], *, fuzzy: bool = False) -> dict[str, Any]:
    match: dict[str, Any] = {"query": text, "fields": fields, "type": "best_fields"}
    if fuzzy:
        match |= {"fuzziness": "AUTO", "max_expansions": 50}
    return {"multi_match": match}


def _match_phrase(text: str, fields: list[str]) -> dict[str, Any]:
    return {"multi_match": {"query": text, "fields": fields, "type": "phrase"}}


def _keyword_terms(value: str, fields: Searched) -> list[dict[str, Any]]:
    term: dict[str, Any] = {"value": value, "case_insensitive": True}
    return [{"term": {name: term | ({"boost": boost} if boost else {})}} for name, boost in fields.keywords]
