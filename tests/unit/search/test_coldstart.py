"""Start-up before gunicorn forks: no collection while modules load, then everything loaded is frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hermes.coldstart import loading_before_fork


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # give the test process's objects back to the collector
    gc.enable()


@pytest.mark.usefixtures("unfrozen")
def test_the_collector_is_off_while_loading_then_on_with_the_loaded_objects_frozen() -> None:
    gc.unfreeze()
    with loading_before_fork():
        assert not gc.isenabled()
        loaded = [object()]
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    assert loaded


@pytest.mark.usefixtures("unfrozen")
def test_a_collector_switched_off_before_stays_off() -> None:
    gc.disable()
    with loading_before_fork():
        pass
    assert not gc.isenabled()
