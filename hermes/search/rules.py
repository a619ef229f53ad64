"""Relevance rules, changed at run time without a load: synonyms, pins and hides (docs/relevance.md).

Three kinds of rule, each a small JSON object with an ``id`` (how it is stored, replaced and deleted):

- ``{"id": "tv", "type": "synonyms", "terms": ["tv", "television"]}``: two-way, each term finds the others;
- ``{"id": "sneakers", "type": "one_way", "from": "sneakers", "to": ["trainers"]}``: ``sneakers`` finds
  ``trainers`` too, not the reverse;
- ``{"id": "whale", "type": "curate", "query": "white whale", "pin": ["id1", "id2"], "hide": ["id3"]}``:
  for that query, ``id1`` then ``id2`` first, ``id3`` never.

A curation matches a query by equality of the normalised forms (:func:`hermes.search.analytics.normalise`:
NFKC, case-folded, whitespace collapsed), the form the analytics report counts queries under. Punctuation
is kept: in ``q`` quotes make phrases and a leading ``-`` excludes, so ``"white whale"`` is another query.

A synonym term matches whole words of the query, in order (words as the standard analyzer splits them:
``wi-fi`` is the words ``wi fi``); each match gives a variant of the query with the term replaced by one of
its alternatives, and the search matches the query or any variant (:mod:`hermes.search.curation`). A term
inside an exclusion (``-tv``, ``-"tv stand"``) is left alone. At most :data:`MAX_VARIANTS` variants.

Pure: parsing, validation and matching. Reading the rules is :mod:`hermes.search.served_rules`; writing
them, :mod:`hermes.operator.rules`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hermes.errors import InvalidRuleError
from hermes.search.analytics import normalise

MAX_RULES = 1000
MAX_TERMS = 20  # terms of a synonyms group, targets of a one-way synonym
MAX_TERM_CHARS = 100
MAX_QUERY_CHARS = 256  # as q itself
MAX_PINS = 20
MAX_HIDES = 100
MAX_DOC_ID_BYTES = 512  # Elasticsearch's _id limit
MAX_VARIANTS = 8  # each variant is one more text query for Elasticsearch
_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_WORD = re.compile(r"\w+")
# What a query excludes (the query syntax): -word and -"some words" (an open quote runs to the end).
_EXCLUDED = re.compile(r'(?:(?<=\s)|^)-(?:"[^"]*"?|\S+)')
_FIELDS = {
    "synonyms": {"id", "type", "terms"},
    "one_way": {"id", "type", "from", "to"},
    "curate": {"id", "type", "query", "pin", "hide"},
}


@dataclass(frozen=True)
class Synonyms:
    """Two-way: each term finds every other."""

    id: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class OneWay:
    """``source`` finds ``targets`` too; a target does not find ``source``."""

    id: str
    source: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Curation:
    """For one query: ``pin`` first, in this order; ``hide`` never."""

    id: str
    query: str
    pin: tuple[str, ...] = ()
    hide: tuple[str, ...] = ()


Rule = Synonyms | OneWay | Curation


def to_json(rule: Rule) -> dict[str, Any]:
    """The rule as stored and exported (what :func:`parse_rule` reads back)."""
    if isinstance(rule, Synonyms):
        return {"id": rule.id, "type": "synonyms", "terms": list(rule.terms)}
    if isinstance(rule, OneWay):
        return {"id": rule.id, "type": "one_way", "from": rule.source, "to": list(rule.targets)}
    return {"id": rule.id, "type": "curate", "query": rule.query, "pin": list(rule.pin), "hide": list(rule.hide)}


def parse_rule(raw: object) -> Rule:
    """A rule from its JSON form; :class:`InvalidRuleError` names the rule and the field at fault."""
    if not isinstance(raw, Mapping):
        msg = "a rule is a JSON object with an id and a type"
        raise InvalidRuleError(msg)
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
        msg = f"rule id {rule_id!r}: 1-128 letters, digits, '_', '.', ':' or '-', starting with a letter or digit"
        raise InvalidRuleError(msg)
    kind = raw.get("type")
    if kind not in _FIELDS:
        msg = f"rule {rule_id}: type must be one of {', '.join(_FIELDS)}"
        raise InvalidRuleError(msg)
    unknown = sorted(set(raw) - _FIELDS[kind])
    if unknown:
        msg = f"rule {rule_id}: unknown field {unknown[0]!r} for type {kind}"
        raise InvalidRuleError(msg)
    if kind == "synonyms":
        terms = _terms(rule_id, "terms", raw.get("terms"), least=2)
        return Synonyms(rule_id, terms)
    if kind == "one_way":
        source = _term(rule_id, "from", raw.get("from"))
        targets = _terms(rule_id, "to", raw.get("to"), least=1)
        if _words(source) in {_words(t) for t in targets}:
            msg = f"rule {rule_id}: to must not repeat from"
            raise InvalidRuleError(msg)
        return OneWay(rule_id, source, targets)
    return _curation(rule_id, raw)


def _curation(rule_id: str, raw: Mapping[str, Any]) -> Curation:
    query = raw.get("query")
    if not isinstance(query, str) or not 1 <= len(query) <= MAX_QUERY_CHARS or not normalise(query):
        msg = f"rule {rule_id}: query must be text of 1-{MAX_QUERY_CHARS} characters"
        raise InvalidRuleError(msg)
    pin = _ids(rule_id, "pin", raw.get("pin", []), MAX_PINS)
    hide = _ids(rule_id, "hide", raw.get("hide", []), MAX_HIDES)
    if not pin and not hide:
        msg = f"rule {rule_id}: a curation needs pin or hide ids"
        raise InvalidRuleError(msg)
    both = sorted(set(pin) & set(hide))
    if both:
        msg = f"rule {rule_id}: {both[0]!r} is both pinned and hidden"
        raise InvalidRuleError(msg)
    return Curation(rule_id, query, pin, hide)


def _term(rule_id: str, name: str, value: object) -> str:
    ok = isinstance(value, str) and 1 <= len(value) <= MAX_TERM_CHARS
    if not ok or not _words(str(value)) or '"' in str(value) or str(value).lstrip().startswith("-"):
        msg = (
            f"rule {rule_id}: {name}: each term is 1-{MAX_TERM_CHARS} characters with at least one letter or "
            "digit, no '\"' and no leading '-'"
        )
        raise InvalidRuleError(msg)
    return " ".join(str(value).split())


def _terms(rule_id: str, name: str, value: object, *, least: int) -> tuple[str, ...]:
    if not isinstance(value, list) or not least <= len(value) <= MAX_TERMS:
        msg = f"rule {rule_id}: {name} must be a list of {least} to {MAX_TERMS} terms"
        raise InvalidRuleError(msg)
    terms = tuple(_term(rule_id, name, v) for v in value)
    if len({_words(t) for t in terms}) != len(terms):
        msg = f"rule {rule_id}: {name} repeats a term"
        raise InvalidRuleError(msg)
    return terms


def _ids(rule_id: str, name: str, value: object, most: int) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > most:
        msg = f"rule {rule_id}: {name} must be a list of at most {most} document ids"
        raise InvalidRuleError(msg)
    for doc_id in value:
        if not isinstance(doc_id, str) or not 1 <= len(doc_id.encode("utf-8", "surrogatepass")) <= MAX_DOC_ID_BYTES:
            msg = f"rule {rule_id}: {name}: each id is a string of 1-{MAX_DOC_ID_BYTES} bytes"
            raise InvalidRuleError(msg)
    if len(set(value)) != len(value):
        msg = f"rule {rule_id}: {name} repeats an id"
        raise InvalidRuleError(msg)
    return tuple(value)


def check_set(rules: Sequence[Rule]) -> None:
    """What a whole set must hold: unique ids, one curation per normalised query, at most MAX_RULES."""
    if len(rules) > MAX_RULES:
        msg = f"{len(rules)} rules: at most {MAX_RULES}"
        raise InvalidRuleError(msg)
    ids: set[str] = set()
    queries: dict[str, str] = {}
    for rule in rules:
        if rule.id in ids:
            msg = f"rule id {rule.id} appears twice"
            raise InvalidRuleError(msg)
        ids.add(rule.id)
        if isinstance(rule, Curation):
            other = queries.setdefault(normalise(rule.query), rule.id)
            if other != rule.id:
                msg = f"rule {rule.id}: rule {other} already curates the query {normalise(rule.query)!r}"
                raise InvalidRuleError(msg)


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(normalise(text)))


@dataclass(frozen=True)
class Matched:
    """What the rules say about one query: variants to match too, ids to pin first, ids to hide."""

    variants: tuple[str, ...] = ()
    pin: tuple[str, ...] = ()
    hide: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.variants or self.pin or self.hide)


NOTHING = Matched()


@dataclass(frozen=True)
class _Term:
    words: tuple[str, ...]
    alternatives: tuple[str, ...]  # normalised


@dataclass
class RuleSet:
    """A set of rules, indexed for matching: curations by normalised query, synonym terms by first word."""

    rules: tuple[Rule, ...] = ()
    _curations: dict[str, Curation] = field(default_factory=dict, init=False, repr=False)
    _terms: dict[str, list[_Term]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for rule in self.rules:
            if isinstance(rule, Curation):
                self._curations.setdefault(normalise(rule.query), rule)
            elif isinstance(rule, Synonyms):
                for term in rule.terms:
                    self._add(term, [t for t in rule.terms if t != term])
            else:
                self._add(rule.source, rule.targets)

    def _add(self, term: str, alternatives: Iterable[str]) -> None:
        words = _words(term)
        self._terms.setdefault(words[0], []).append(_Term(words, tuple(normalise(a) for a in alternatives)))

    def match(self, q: str) -> Matched:
        """The rules that apply to ``q`` (pure; cheap when none does: one dict lookup per word)."""
        if not self.rules:
            return NOTHING
        text = normalise(q)
        curation = self._curations.get(text)
        variants = self._variants(text) if self._terms else ()
        if curation is None:
            return Matched(variants) if variants else NOTHING
        return Matched(variants, curation.pin, curation.hide)

    def _variants(self, text: str) -> tuple[str, ...]:
        tokens = list(_WORD.finditer(text))
        excluded = [m.span() for m in _EXCLUDED.finditer(text)] if "-" in text else []
        out: dict[str, None] = {}
        for i, token in enumerate(tokens):
            for term in self._terms.get(token.group(), ()):
                span = tokens[i : i + len(term.words)]
                if tuple(t.group() for t in span) != term.words:
                    continue
                start, end = span[0].start(), span[-1].end()
                if any(a < end and start < b for a, b in excluded):
                    continue
                for alternative in term.alternatives:
                    variant = text[:start] + alternative + text[end:]
                    if variant != text:
                        out.setdefault(variant)
                    if len(out) == MAX_VARIANTS:
                        return tuple(out)
        return tuple(out)


EMPTY_RULES = RuleSet()


def parse_stored(sources: Iterable[object]) -> tuple[RuleSet, list[str]]:
    """The rules read back from their index, and a message for each stored document that is not a rule."""
    rules: list[Rule] = []
    problems: list[str] = []
    for source in sources:
        try:
            rules.append(parse_rule(source))
        except InvalidRuleError as exc:
            problems.append(exc.message)
    return RuleSet(tuple(rules)), problems
