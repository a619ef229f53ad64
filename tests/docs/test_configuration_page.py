"""docs/configuration.md is generated from ``Settings`` and must match the code it describes."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes.settings import Settings
from scripts import configuration_doc


def test_every_setting_has_a_one_sentence_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not (field.description or "").endswith(".")]
    assert missing == []


def test_committed_page_is_what_the_settings_render() -> None:
    """Fails when a setting changed without `make docs` (python -m scripts.configuration_doc --write)."""
    committed = configuration_doc.PAGE.read_text(encoding="utf-8")
    assert committed == configuration_doc.render(), "docs/configuration.md is stale: run `make docs`"


def test_page_has_one_row_per_variable() -> None:
    page = configuration_doc.render()
    for field in Settings.model_fields.values():
        assert page.count(f"| `{field.validation_alias}` |") == 1


def test_check_mode_reports_a_stale_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text("old\n", encoding="utf-8")
    monkeypatch.setattr(configuration_doc, "PAGE", stale)
    monkeypatch.setattr(configuration_doc, "ROOT", tmp_path)
    assert configuration_doc.main(["--check"]) == 1
    assert configuration_doc.main(["--write"]) == 0
    assert configuration_doc.main(["--check"]) == 0
