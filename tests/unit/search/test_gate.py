"""The costly-search gate: a slot or the cheap form, never a wait."""

from __future__ import annotations

from hermes.search.gate import CostGate


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
