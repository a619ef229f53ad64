"""A function's environment is derived from ``Settings``: writing it and reading it back loses nothing."""

from __future__ import annotations

from typing import Any

from hermes.settings import Settings, load_settings, to_environ, variables
from tests.support.settings import environ, settings_with

# One value per field, none of them its default. A field added to Settings without a value here fails
# the first test, so the round trip below always covers every setting.
NOT_DEFAULT: dict[str, Any] = {
    "es_url": "https://es.example:9243",
    "es_api_key": "api-key",
    "es_username": "elastic",
    "es_password": "pass word",
    "es_ca_certs": "/etc/ssl/es.pem",
    "es_index": "books",
    "data_source_url": "file:///data/records.ndjson",
    "data_source_token": "token",
    "es_request_timeout_s": 3.5,
    "es_bulk_timeout_s": 90.0,
    "es_max_retries": 3,
    "search_timeout_ms": 900,
    "recency": "30d",
    "field_schema": '{"fields": {"language": {"type": "keyword", "filter": true, "facet": true},'
    ' "summary": {"type": "text", "search": true, "boost": 2}}}',
    "analysis": '{"analyzer": {"folded": {"tokenizer": "standard", "filter": ["asciifolding"]}}}',
    "schema_refresh_s": 0.0,
    "rules_refresh_s": 0.0,
    "analytics": True,
    "analytics_queue": 50,
    "analytics_batch": 7,
    "analytics_flush_s": 0.25,
    "suggest_queries": True,
    "suggest_min_count": 3,
    "suggest_window": "12h",
    "suggest_refresh_s": 0.0,
    "cors_origins": "https://app.example",
    "cache_control": "no-store",
    "ready_cache_s": 0.0,
    "retry_after_s": 9,
    "costly_searches": 5,
    "search_key_secret": "k" * 40,
    "search_key_previous_secret": "p" * 40,
    "rate_limit": 120,
    "source_timeout_s": 4.0,
    "source_retries": 0,
    "source_deadline_s": 60.0,
    "bulk_chunk_docs": 10,
    "bulk_chunk_bytes": 4096,
    "max_record_bytes": 2048,
    "bulk_workers": 3,
    "max_failures": 0,
    "max_consecutive_failures": 4,
    "max_failure_rate": 0.5,
    "min_swap_ratio": 0.9,
    "keep_indices": 0,
    "prune_grace_s": 0.0,
    "index_shards": 6,
    "index_replicas": 2,
    "shard_wait_s": 45.0,
    "green_timeout_s": 5.0,
    "lock_ttl_s": 1.5,
    "slice_s": 12.5,
    "load_partitions": 3,
    "slice_attempts": 2,
    "k_sink": "http://broker-ingress.knative-eventing.svc.cluster.local/hermes/hermes",
    "port": 9090,
    "delta_overlap_s": 0.0,
    "full_ping_source": "nightly",
    "max_event_bytes": 4096,
    "log_level": "DEBUG",
}


def _every_field_set() -> Settings:
    by_variable = {str(Settings.model_fields[name].validation_alias): v for name, v in NOT_DEFAULT.items()}
    return Settings.model_validate(by_variable)


def test_every_setting_has_a_value_in_the_round_trip() -> None:
    assert set(NOT_DEFAULT) == set(Settings.model_fields)


def test_every_field_is_written_and_read_back_unchanged() -> None:
    settings = _every_field_set()
    defaults = Settings()
    assert [name for name in Settings.model_fields if getattr(settings, name) == getattr(defaults, name)] == []
    env = to_environ(settings)
    assert set(env) == variables()
    assert load_settings(env) == settings


def test_unset_settings_are_left_out_and_booleans_read_as_words() -> None:
    env = to_environ(Settings())
    assert "ES_API_KEY" not in env
    assert "DATA_SOURCE_URL" not in env
    assert env["HERMES_ANALYTICS"] == "false"
    assert load_settings(env) == Settings()


def test_overrides_are_named_by_their_variable() -> None:
    base = settings_with(ES_INDEX="books", HERMES_SOURCE_RETRIES=1)
    derived = settings_with(base, HERMES_RECENCY="12h")
    assert (derived.es_index, derived.source_retries, derived.recency) == ("books", 1, "12h")
    assert environ(derived)["HERMES_SOURCE_RETRIES"] == "1"
