"""The costly-search gate: a slot or the cheap form, never a wait."""

from __future__ import annotations

from hermes.search.gate import COSTLY_WORDS, CostGate
from hermes.search.syntax import parse
from hermes.search.text import FUZZY_MAX_TERMS, fuzzy_terms


def test_slots_are_taken_without_waiting_and_given_back() -> None:
    gate = CostGate(2)
    with gate.costly() as first, gate.costly() as second, gate.costly() as third:
        assert (first, second, third) == (True, True, False)
    with gate.costly() as again:
        assert again


def test_a_failed_search_gives_its_slot_back() -> None:
    gate = CostGate(1)
    try:
        with gate.costly():
            raise RuntimeError
    except RuntimeError:
        pass
    with gate.costly() as admitted:
        assert admitted


def test_only_fuzzy_free_words_count_as_costly() -> None:
    assert fuzzy_terms(parse("lighthouse keeper island")) == COSTLY_WORDS
    assert fuzzy_terms(parse("a-b-c")) == 3  # as the analyzer splits it
    # phrases, exclusions and number-like words are matched as typed: no expansion to pay for
    assert fuzzy_terms(parse('"one two three four five six seven" -eight -"nine ten" 2019 978-0-14-243724-7')) == 0
    assert fuzzy_terms(parse('keeper "one two three" -four')) == 1
    assert fuzzy_terms(parse("one two three four five six seven")) > FUZZY_MAX_TERMS
