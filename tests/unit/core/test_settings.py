from __future__ import annotations

import pytest

from hermes.config import get_settings
from hermes.errors import ConfigurationError
from hermes.settings import load_settings


def test_defaults_follow_the_contract() -> None:
    s = load_settings()
    assert s.es_url == "http://localhost:9200"
    assert s.es_index == "documents"
    assert s.data_source_url is None
    assert s.state_index == "documents.hermes-state"


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ES_API_KEY", "very-secret-key")
    monkeypatch.setenv("DATA_SOURCE_TOKEN", "very-secret-token")
    s = load_settings()
    assert "very-secret" not in repr(s)
    assert s.es_api_key is not None
    assert s.es_api_key.get_secret_value() == "very-secret-key"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ES_URL", "localhost:9200"),
        ("ES_INDEX", "Bad Name"),
        ("HERMES_RECENCY", "30 days"),
        ("HERMES_RECENCY", "0d"),
        ("HERMES_RECENCY", "99999999999999999999d"),
        ("HERMES_RECENCY", "3153600000001ms"),
        ("ES_INDEX", "_hidden"),
        ("DATA_SOURCE_URL", "ftp://example/records"),
        ("HERMES_ES_TIMEOUT_S", "-1"),
        ("HERMES_MIN_SWAP_RATIO", "2"),
    ],
)
def test_invalid_setting_is_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        load_settings()


def test_username_needs_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ES_USERNAME", "elastic")
    with pytest.raises(ConfigurationError, match="ES_PASSWORD"):
        load_settings()


def test_settings_are_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("ES_INDEX", "other")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().es_index == "other"


def test_file_source_url_kept_verbatim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_SOURCE_URL", "file:///data/records.ndjson")
    assert load_settings().data_source_url == "file:///data/records.ndjson"
