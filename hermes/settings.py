"""All configuration, read once from the environment (see CONTRACT.md § Configuration).

A plain pydantic model fed from ``os.environ`` rather than ``pydantic-settings``: that
package cost the search function 35-65 ms of imports at every cold start (measured with
``python -X importtime``, docs/benchmarks.md) for one feature, reading variables by name,
which :func:`load_settings` does in three lines.

The one declaration of every setting. The search function does not import this module to start:
``hermes.config.get_settings`` reads the environment with a light reader derived from this model
(``scripts/light_specs.py`` → ``hermes/specs.py``) and comes here only when it is unsure. The model's
validators are therefore plain functions of ``hermes.checks``, which both paths run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from hermes import checks
from hermes.config import Derived, get_settings, pick
from hermes.errors import ConfigurationError
from hermes.schema import EMPTY, Schema

# get_settings lives in hermes.config (no pydantic); re-exported for the callers that import it from here.
__all__ = ["Settings", "get_settings", "load_settings", "read_json_setting", "to_environ", "variables"]


class Settings(Derived, BaseModel):
    """Every setting Hermes reads, by environment variable name. Nothing else looks at ``os.environ``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    es_url: str = Field("http://localhost:9200", validation_alias="ES_URL", description="Elasticsearch base URL.")
    es_api_key: SecretStr | None = Field(
        None, validation_alias="ES_API_KEY", description="API key for Elasticsearch, preferred over basic auth."
    )
    es_username: str | None = Field(
        None, validation_alias="ES_USERNAME", description="Basic-auth user name; set together with ES_PASSWORD."
    )
    es_password: SecretStr | None = Field(
        None, validation_alias="ES_PASSWORD", description="Basic-auth password; set together with ES_USERNAME."
    )
    es_ca_certs: str | None = Field(
        None,
        validation_alias="ES_CA_CERTS",
        description="Path to a PEM CA bundle for TLS to Elasticsearch; unset uses the system store.",
    )
    es_index: str = Field(
        "documents", validation_alias="ES_INDEX", description="The alias every function reads and writes through."
    )
    data_source_url: str | None = Field(
        None,
        validation_alias="DATA_SOURCE_URL",
        description="Where loaders read records: http(s)://… or file:///abs/path.{json,ndjson}; loaders need it.",
    )
    data_source_token: SecretStr | None = Field(
        None, validation_alias="DATA_SOURCE_TOKEN", description="Bearer token sent to the data source."
    )

    # Elasticsearch client behaviour.
    es_request_timeout_s: Annotated[float, Field(gt=0)] = Field(
        2.0,
        validation_alias="HERMES_ES_TIMEOUT_S",
        description="Client request timeout on the search path: a dead cluster's 503 comes within about that.",
    )
    es_bulk_timeout_s: Annotated[float, Field(gt=0)] = Field(
        60.0,
        validation_alias="HERMES_ES_BULK_TIMEOUT_S",
        description="Request timeout of every request a loader makes (bulk, refresh, alias swap).",
    )
    es_max_retries: Annotated[int, Field(ge=0, le=10)] = Field(
        1, validation_alias="HERMES_ES_MAX_RETRIES", description="Client retries on connection errors."
    )
    search_timeout_ms: Annotated[int, Field(ge=10)] = Field(
        1500,
        validation_alias="HERMES_SEARCH_TIMEOUT_MS",
        description="Server-side timeout of every search, in milliseconds.",
    )

    recency: Annotated[str | None, Field(pattern=r"^[1-9][0-9]*(ms|s|m|h|d)$")] = Field(
        None,
        validation_alias="HERMES_RECENCY",
        description="A half-life (30d, 12h): a relevance-sorted text score halves for each such age of updated_at.",
    )

    field_schema: Schema = Field(
        EMPTY,
        validation_alias="HERMES_SCHEMA",
        description="Declared fields beyond the core document, inline JSON or file:///abs/path.json.",
    )
    analysis: dict[str, Any] | None = Field(
        None,
        validation_alias="HERMES_ANALYSIS",
        description="Index analysis settings (analyzer, filter, …) put into every new index, inline JSON or file:///abs/path.json.",
    )
    schema_refresh_s: Annotated[float, Field(ge=0)] = Field(
        10.0,
        validation_alias="HERMES_SCHEMA_REFRESH_S",
        description="How long the search function trusts the served index's schema before reading it again.",
    )

    rules_refresh_s: Annotated[float, Field(ge=0)] = Field(
        10.0,
        validation_alias="HERMES_RULES_REFRESH_S",
        description="How long the search function keeps the relevance rules (synonyms, pins, hides) before "
        "reading them again: a rule change shows in search within this period.",
    )

    # Search analytics (hermes.search.analytics): off unless HERMES_ANALYTICS=true.
    analytics: bool = Field(
        False,
        validation_alias="HERMES_ANALYTICS",
        description="Record every search into <ES_INDEX>.hermes-analytics-<YYYY.MM>.",
    )
    analytics_queue: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        10_000,
        validation_alias="HERMES_ANALYTICS_QUEUE",
        description="Analytics events held in memory; more are dropped and counted.",
    )
    analytics_batch: Annotated[int, Field(ge=1, le=10_000)] = Field(
        500, validation_alias="HERMES_ANALYTICS_BATCH", description="Analytics events per bulk request."
    )
    analytics_flush_s: Annotated[float, Field(gt=0)] = Field(
        5.0, validation_alias="HERMES_ANALYTICS_FLUSH_S", description="Seconds between analytics writes."
    )

    # Query suggestions from the analytics (hermes.search.popular): off unless HERMES_SUGGEST_QUERIES=true.
    suggest_queries: bool = Field(
        False,
        validation_alias="HERMES_SUGGEST_QUERIES",
        description="/suggest also completes from popular past queries that found something, read from the "
        "search analytics (HERMES_ANALYTICS).",
    )
    suggest_min_count: Annotated[int, Field(ge=2, le=1_000_000)] = Field(
        5,
        validation_alias="HERMES_SUGGEST_MIN_COUNT",
        description="A past query is suggested once this many callers searched it: distinct search keys when "
        "keys are on, else searches.",
    )
    suggest_window: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,4}[mhd]$")] = Field(
        "30d",
        validation_alias="HERMES_SUGGEST_WINDOW",
        description="How far back query suggestions count searches: 30m, 12h, 30d.",
    )
    suggest_refresh_s: Annotated[float, Field(ge=0)] = Field(
        60.0,
        validation_alias="HERMES_SUGGEST_REFRESH_S",
        description="How long the search function keeps the popular queries before counting them again.",
    )

    costly_searches: Annotated[int, Field(ge=1, le=64)] = Field(
        2,
        validation_alias="HERMES_COSTLY_SEARCHES",
        description="Costly searches (typo tolerance over 3+ words, did_you_mean lookups) one instance runs "
        "at a time; the others match the words as typed and offer no correction.",
    )

    # Search keys and rate limits (CONTRACT.md § Search keys and limits).
    search_key_secret: SecretStr | None = Field(
        None,
        validation_alias="HERMES_SEARCH_KEY_SECRET",
        description="HS256 secret search keys are signed with (32+ bytes); set, /search, /suggest and "
        "/documents need a key. Unset, search is open to anyone who can reach it.",
    )
    search_key_previous_secret: SecretStr | None = Field(
        None,
        validation_alias="HERMES_SEARCH_KEY_PREVIOUS_SECRET",
        description="The secret before the current one: its keys stay valid while a rotation rolls out.",
    )
    rate_limit: Annotated[int | None, Field(ge=1)] = Field(
        None,
        validation_alias="HERMES_RATE_LIMIT",
        description="Requests a minute each client address may send without a key, per instance; unset: no limit.",
    )

    # Search HTTP behaviour.
    cors_origins: str = Field(
        "",
        validation_alias="HERMES_CORS_ORIGINS",
        description="Comma-separated origins allowed by CORS, or *; empty sends no CORS headers.",
    )
    cache_control: str = Field(
        "public, max-age=5",
        validation_alias="HERMES_CACHE_CONTROL",
        description="Cache-Control header of successful search, suggest and document answers.",
    )
    ready_cache_s: Annotated[float, Field(ge=0)] = Field(
        2.0, validation_alias="HERMES_READY_CACHE_S", description="How long /health/ready reuses its last answer."
    )
    retry_after_s: Annotated[int, Field(ge=1)] = Field(
        5, validation_alias="HERMES_RETRY_AFTER_S", description="Retry-After sent with 503 answers, in seconds."
    )

    # Loading.
    source_timeout_s: Annotated[float, Field(gt=0)] = Field(
        30.0,
        validation_alias="HERMES_SOURCE_TIMEOUT_S",
        description="Connect and read timeout towards the data source.",
    )
    source_retries: Annotated[int, Field(ge=0, le=20)] = Field(
        5,
        validation_alias="HERMES_SOURCE_RETRIES",
        description="Retries with exponential backoff on source errors, 429 and 5xx.",
    )
    source_deadline_s: Annotated[float, Field(gt=0)] = Field(
        3600.0,
        validation_alias="HERMES_SOURCE_DEADLINE_S",
        description="Longest one source answer (one page) may take in total, so a trickling source ends.",
    )
    bulk_chunk_docs: Annotated[int, Field(ge=1)] = Field(
        1000, validation_alias="HERMES_BULK_CHUNK_DOCS", description="Most documents in one bulk request."
    )
    bulk_chunk_bytes: Annotated[int, Field(ge=1024)] = Field(
        10 * 1024 * 1024, validation_alias="HERMES_BULK_CHUNK_BYTES", description="Most bytes in one bulk request."
    )
    max_record_bytes: Annotated[int, Field(ge=1024)] = Field(
        5 * 1024 * 1024,
        validation_alias="HERMES_MAX_RECORD_BYTES",
        description="A record larger than this, serialised, is invalid, skipped and dead-lettered.",
    )
    bulk_workers: Annotated[int, Field(ge=1, le=8)] = Field(
        2, validation_alias="HERMES_BULK_WORKERS", description="Bulk requests in flight during a load."
    )
    max_failures: Annotated[int, Field(ge=0)] = Field(
        1000,
        validation_alias="HERMES_MAX_FAILURES",
        description="Error budget: failed records and bulk items per load.",
    )
    max_consecutive_failures: Annotated[int, Field(ge=1)] = Field(
        100, validation_alias="HERMES_MAX_CONSECUTIVE_FAILURES", description="Error budget: failures in a row."
    )
    max_failure_rate: Annotated[float, Field(ge=0, le=1)] = Field(
        0.1,
        validation_alias="HERMES_MAX_FAILURE_RATE",
        description="Error budget: failures over records read, checked after 100 records.",
    )
    min_swap_ratio: Annotated[float, Field(ge=0, le=1)] = Field(
        0.5,
        validation_alias="HERMES_MIN_SWAP_RATIO",
        description="A full load refuses to swap to an index smaller than this share of the served one unless forced.",
    )
    keep_indices: Annotated[int, Field(ge=0)] = Field(
        1, validation_alias="HERMES_KEEP_INDICES", description="Previous indices kept for rollback."
    )
    prune_grace_s: Annotated[float, Field(ge=0)] = Field(
        300.0,
        validation_alias="HERMES_PRUNE_GRACE_S",
        description="An unserved index is deleted no sooner than this after it stopped being served.",
    )
    index_shards: Annotated[int, Field(ge=1, le=1024)] = Field(
        1,
        validation_alias="HERMES_INDEX_SHARDS",
        description="Primary shards of every new data index, fixed for its life: a change takes effect at the "
        "next full load (docs/loads.md § Index shape: aim at 10-50 GB a shard).",
    )
    index_replicas: Annotated[int | None, Field(ge=0, le=16)] = Field(
        None,
        validation_alias="HERMES_INDEX_REPLICAS",
        description="Replicas of every served data index; unset: 0 on one node, 1 on more "
        "(auto_expand_replicas 0-1). A full load builds with 0 and sets this before the swap.",
    )
    shard_wait_s: Annotated[float, Field(gt=0)] = Field(
        120.0,
        validation_alias="HERMES_SHARD_WAIT_S",
        description="How long a load waits for a shard whose node left (its writes retried, then its "
        "primary awaited before the verification) before failing with nothing served changed.",
    )
    green_timeout_s: Annotated[float, Field(gt=0)] = Field(
        120.0,
        validation_alias="HERMES_GREEN_TIMEOUT_S",
        description="How long the swap waits for the new index to be green (its replicas allocated).",
    )
    lock_ttl_s: Annotated[float, Field(gt=0)] = Field(
        120.0,
        validation_alias="HERMES_LOCK_TTL_S",
        description="A load lock not renewed this long belonged to a crashed run and is broken (renewed every TTL/3).",
    )
    slice_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        300.0,
        validation_alias="HERMES_SLICE_S",
        description="Longest a full load request reads and writes before it checkpoints and hands over to the "
        "next slice; keep it well below the request timeout (the chart's is 600 s: the last slice still "
        "verifies and swaps after it).",
    )
    load_partitions: Annotated[int, Field(ge=1, le=64)] = Field(
        1,
        validation_alias="HERMES_LOAD_PARTITIONS",
        description="Partitions a full load reads in parallel, each with ?partition=<i>&partitions=<n> "
        "(the source must speak that protocol when above 1).",
    )
    slice_attempts: Annotated[int, Field(ge=1, le=100)] = Field(
        5,
        validation_alias="HERMES_SLICE_ATTEMPTS",
        description="Times one slice may start over after dying before the load fails for good.",
    )
    k_sink: str | None = Field(
        None,
        validation_alias="K_SINK",
        description="Where a full load sends its hand-over event (set by Knative, e.g. a SinkBinding to the "
        "Broker); unset, the function posts it to itself on PORT.",
    )
    port: Annotated[int, Field(ge=1, le=65535)] = Field(
        8080, validation_alias="PORT", description="The port the function listens on (set by Knative)."
    )
    delta_overlap_s: Annotated[float, Field(ge=0)] = Field(
        300.0,
        validation_alias="HERMES_DELTA_OVERLAP_S",
        description="How far behind the watermark a delta re-reads, to catch late commits.",
    )

    full_ping_source: str = Field(
        "hermes-full",
        validation_alias="HERMES_FULL_PING_SOURCE",
        description="The PingSource whose ticks the full load accepts as a scheduled reconciliation.",
    )
    # A loader's request body is one CloudEvent whose data is at most {"force": true}.
    max_event_bytes: Annotated[int, Field(ge=1024)] = Field(
        65536,
        validation_alias="HERMES_MAX_EVENT_BYTES",
        description="Largest CloudEvent a loader reads; larger ones get 413.",
    )

    log_level: str = Field("INFO", validation_alias="HERMES_LOG_LEVEL", description="Level of the JSON logs.")

    @field_validator("index_replicas", mode="before")
    @classmethod
    def _unset_replicas(cls, value: object) -> object:
        """An empty HERMES_INDEX_REPLICAS (a chart value left blank) means unset."""
        return None if isinstance(value, str) and not value.strip() else value

    _url_scheme = field_validator("es_url", "data_source_url", "k_sink")(checks.url_scheme)
    _index_name = field_validator("es_index")(checks.index_name)
    _recency_in_range = field_validator("recency")(checks.recency_in_range)
    _secret_length = field_validator("search_key_secret", "search_key_previous_secret")(checks.secret_length)
    _credentials_pair = model_validator(mode="after")(checks.credentials_pair)

    @field_validator("field_schema", "analysis", mode="before")
    @classmethod
    def _json(cls, value: object) -> object:
        return read_json_setting(value) if isinstance(value, str) else value

    @field_validator("analysis")
    @classmethod
    def _analysis(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        kinds = {"analyzer", "normalizer", "tokenizer", "filter", "char_filter"}
        if value is not None and not set(value) <= kinds:
            msg = f"the index analysis settings: an object of {', '.join(sorted(kinds))}"
            raise ValueError(msg)
        return value


def read_json_setting(value: str) -> object:
    """A JSON setting given inline or as ``file:///abs/path.json``."""
    text = value
    if value.startswith("file://"):
        try:
            text = Path(value.removeprefix("file://")).read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"cannot read {value}: {exc.strerror}"
            raise ValueError(msg) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        msg = f"not valid JSON ({exc})"
        raise ValueError(msg) from None


def _variables() -> frozenset[str]:
    return frozenset(str(f.validation_alias) for f in Settings.model_fields.values())


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default: the process environment).

    A validation error becomes a :class:`ConfigurationError` naming the variable.
    """
    values = pick(os.environ if environ is None else environ, _variables())
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        msg = f"invalid configuration: {problems}"
        raise ConfigurationError(msg) from None


def variables() -> frozenset[str]:
    """Every environment variable :class:`Settings` reads (its fields' ``validation_alias``)."""
    return _variables()


def to_environ(settings: Settings) -> dict[str, str]:
    """The environment :func:`load_settings` reads back as ``settings``: one variable per field.

    Derived from the model, so a new field can never be left out: secrets are unwrapped, JSON settings
    dumped as JSON, booleans written ``true``/``false``, and unset (``None``) settings omitted.
    """
    env: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is not None:
            env[str(field.validation_alias)] = _environ_value(value)
    return env


def _environ_value(value: object) -> str:
    if isinstance(value, SecretStr) or hasattr(value, "get_secret_value"):  # also the light reader's Secret
        return str(value.get_secret_value())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, BaseModel):
        return value.model_dump_json(exclude_defaults=True)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
