"""The query syntax of ``q``: phrases, exclusions, open quotes; a total parser that round-trips."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hermes.search.syntax import QUOTES, ParsedQuery, free_words_only, number_like, parse

# Every class of character the parser treats differently, plus anything else.
_SPECIAL = st.sampled_from([" ", "\t", "\n", "\u00a0", "\u3000", "-", '"', "“", "”", "„", "*", "'", "\u2019"])
_TEXT = st.text(st.one_of(_SPECIAL, st.characters(), st.sampled_from("abc123")), max_size=80)


@pytest.mark.parametrize(
    ("q", "parsed"),
    [
        ("white whale", ParsedQuery(words=("white", "whale"))),
        ('"white whale"', ParsedQuery(phrases=("white whale",))),
        ("whale -captain", ParsedQuery(words=("whale",), excluded_words=("captain",))),
        ('whale -"white rabbit"', ParsedQuery(words=("whale",), excluded_phrases=("white rabbit",))),
        ("-captain -sea", ParsedQuery(excluded_words=("captain", "sea"))),
        ('"white   whale', ParsedQuery(phrases=("white whale",))),  # open quote: to the end, spaces folded
        ('-"white whale', ParsedQuery(excluded_phrases=("white whale",))),
        ("“white whale”", ParsedQuery(phrases=("white whale",))),  # a phone keyboard's quotes
        ("e-mail", ParsedQuery(words=("e-mail",))),  # a hyphen inside a word is part of it
        ("- whale", ParsedQuery(words=("-", "whale"))),  # a lone hyphen excludes nothing
        ("--x", ParsedQuery(excluded_words=("-x",))),
        ('moby"white whale"dick', ParsedQuery(words=("moby", "dick"), phrases=("white whale",))),
        ('"" ""', ParsedQuery()),  # empty phrases are dropped
        ("   ", ParsedQuery()),
        ("* -draft", ParsedQuery(words=("*",), excluded_words=("draft",))),
    ],
)
def test_parses_the_contract_syntax(q: str, parsed: ParsedQuery) -> None:
    assert parse(q) == parsed


def test_query_kinds() -> None:
    assert parse("-captain").exclusions_only and not parse("whale -captain").exclusions_only
    assert parse("* -draft").match_all and parse("*").match_all and not parse('* "x"').match_all
    assert parse('""').empty and not parse("-x").empty


@given(_TEXT)
@example('-"')
@example('"')
@example("-")
def test_never_raises_and_parts_are_well_formed(q: str) -> None:
    parsed = parse(q)
    for word in (*parsed.words, *parsed.excluded_words):
        assert word
        assert not any(c.isspace() or c in QUOTES for c in word)
    for phrase in (*parsed.phrases, *parsed.excluded_phrases):
        assert phrase == phrase.strip() and "  " not in phrase
        assert not any(c in QUOTES for c in phrase)
    assert all(w == "-" or not w.startswith("-") for w in parsed.words)  # a leading hyphen is an exclusion


@given(_TEXT)
def test_rendering_round_trips(q: str) -> None:
    parsed = parse(q)
    assert parse(parsed.render()) == parsed
    assert parse(parsed.render()).render() == parsed.render()


@given(st.lists(st.text(st.characters(exclude_categories=("Z", "Cc")), min_size=1, max_size=8), max_size=8))
def test_text_without_quotes_or_hyphens_is_free_words(words: list[str]) -> None:
    clean = [w for w in ("".join(c for c in w if c not in QUOTES and c != "-") for w in words) if w]
    q = " ".join(clean)
    if all(not any(c.isspace() for c in w) for w in clean):
        assert parse(q) == ParsedQuery(words=tuple(clean))


@given(_TEXT)
def test_free_words_only_keeps_offsets_and_only_the_free_words(q: str) -> None:
    masked = free_words_only(q)
    assert len(masked) == len(q)
    assert all(m in (c, " ") for m, c in zip(masked, q, strict=True))
    assert parse(masked).words == parse(q).words
    assert parse(masked).phrases == () and parse(masked).excluded_words == ()


def test_did_you_mean_sees_only_free_words() -> None:
    q = 'mobby "white whale" -captain dik'
    masked = free_words_only(q)
    assert masked.split() == ["mobby", "dik"]
    assert masked.index("dik") == q.index("dik")
    assert free_words_only("abbey 1328", numbers=False) == "abbey     "  # a year is no typo


@pytest.mark.parametrize("word", ["2019", "1327", "978-0-14-243724-7", "0-14-243724-X", "3.5", "(1851),", "12:30"])
def test_number_like(word: str) -> None:
    assert number_like(word)


@pytest.mark.parametrize("word", ["v2", "mp3", "whale", "2019s", "-", "x", "", "1-", "iso-9001"])
def test_not_number_like(word: str) -> None:
    assert not number_like(word)
