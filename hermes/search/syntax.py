"""The query syntax of ``q`` (CONTRACT.md § The search function): pure, total, no Elasticsearch.

- ``"two words"`` is a phrase: those words next to each other, in that order, no typos;
- ``-word`` and ``-"two words"`` exclude documents that contain the word or phrase;
- a quote left open runs to the end of ``q``;
- everything else is a free word (typo tolerant, any of them may match, as before the syntax existed).

Terms are separated by whitespace and by quotes; a ``-`` counts only at the start of a term (``e-mail`` is
one free word), and a lone ``-`` is a free word. Straight (``"``) and typographic (``“`` ``”`` ``„``) quotes
are all quotes, so a phone keyboard's curly quotes work. Empty phrases (``""``) are dropped. The parser never
raises: every string is a query. What it returns are values only; the query builders put them in fixed
query shapes (never ``query_string``), so no input can become query DSL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

QUOTES = frozenset('"“”„')
_SPACE = re.compile(r"\s+")
# A number-like term: digits, with the separators of years, ISBNs, codes, decimals and dates, optionally an
# ISBN-10's final X. Typo tolerance never applies to one (2019 must not find 2018).
_NUMBER_LIKE = re.compile(r"\d+(?:[-./,:]\d+)*(?:-?[xX])?")
_EDGE_PUNCTUATION = "()[]{}<>,.;:!?'\"#"


@dataclass(frozen=True)
class ParsedQuery:
    """``q`` split into what it asks for; each tuple in the order typed."""

    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded_words: tuple[str, ...] = ()
    excluded_phrases: tuple[str, ...] = ()

    @property
    def exclusions_only(self) -> bool:
        """Only exclusions: the query matches every document but those."""
        return not self.words and not self.phrases and bool(self.excluded_words or self.excluded_phrases)

    @property
    def empty(self) -> bool:
        """Nothing to match at all (whitespace, ``""``): matches no document."""
        return not (self.words or self.phrases or self.excluded_words or self.excluded_phrases)

    @property
    def match_all(self) -> bool:
        """``*`` alone (exclusions may follow: ``* -draft``): every document."""
        return self.words == ("*",) and not self.phrases

    @property
    def free_text(self) -> str:
        """The free words, space separated."""
        return " ".join(self.words)

    def render(self) -> str:
        """A ``q`` that parses back to this query: free words, phrases, then exclusions."""
        parts = [
            *self.words,
            *(f'"{p}"' for p in self.phrases),
            *(f"-{w}" for w in self.excluded_words),
            *(f'-"{p}"' for p in self.excluded_phrases),
        ]
        return " ".join(parts)

    def with_words(self, words: tuple[str, ...]) -> ParsedQuery:
        """The same phrases and exclusions with other free words (``did_you_mean`` corrects only these)."""
        return ParsedQuery(words, self.phrases, self.excluded_words, self.excluded_phrases)


@functools.lru_cache(maxsize=1024)  # a search parses its q twice (the cost gate, the query): pure, so cached
def parse(q: str) -> ParsedQuery:
    """The parts of ``q``; never raises."""
    found: dict[str, list[str]] = {kind: [] for kind in _KINDS}
    for kind, text, _, _ in _terms(q):
        found[kind].append(text)
    return ParsedQuery(*(tuple(found[kind]) for kind in _KINDS))


def free_words_only(q: str, *, numbers: bool = True) -> str:
    """``q`` with everything but its free words (and, with ``numbers=False``, number-like ones too) blanked
    out, character for character: offsets in it are offsets in ``q``, so a correction of a free word can be
    put back into ``q`` as typed."""
    out = [" "] * len(q)
    for kind, text, start, end in _terms(q):
        if kind == "words" and (numbers or not number_like(text)):
            out[start:end] = q[start:end]
    return "".join(out)


_KINDS = ("words", "phrases", "excluded_words", "excluded_phrases")


def _terms(q: str) -> Iterator[tuple[str, str, int, int]]:
    """Each term of ``q``: its kind (a field of :class:`ParsedQuery`), its text, and its span in ``q``
    (quotes and ``-`` included). Empty phrases are skipped."""
    i, n = 0, len(q)
    while i < n:
        if q[i].isspace():
            i += 1
            continue
        negated = q[i] == "-" and i + 1 < n and not q[i + 1].isspace()
        start = i + 1 if negated else i
        if q[start] in QUOTES:
            end = _find_quote(q, start + 1)
            phrase = _SPACE.sub(" ", q[start + 1 : end]).strip()
            if phrase:
                yield ("excluded_phrases" if negated else "phrases"), phrase, i, min(end + 1, n)
            i = end + 1
            continue
        end = start
        while end < n and not q[end].isspace() and q[end] not in QUOTES:
            end += 1
        yield ("excluded_words" if negated else "words"), q[start:end], i, end
        i = end


def _find_quote(q: str, start: int) -> int:
    """The index of the next quote from ``start``, or ``len(q)`` for a quote left open."""
    return next((j for j in range(start, len(q)) if q[j] in QUOTES), len(q))


def number_like(word: str) -> bool:
    """Whether a free word is a number, year, ISBN or the like (``2019``, ``978-0-14-243724-7``, ``3.5``)."""
    bare = word.strip(_EDGE_PUNCTUATION)
    return bare[:1].isdigit() and _NUMBER_LIKE.fullmatch(bare) is not None
