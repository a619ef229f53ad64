"""The search function's light settings reader agrees with the pydantic ``Settings`` it is derived from.

``hermes.config.read_settings`` may say "unsure" (``None``) for anything; whenever it answers, pydantic
must accept the same environment and hold the same values; whenever pydantic refuses, it must not answer.
The values tried are drawn per field from the model itself (its kind and bounds in ``hermes/specs.py``),
valid and invalid alike, so a new setting is tried without a change here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hermes import specs
from hermes.config import get_settings, read_settings
from hermes.errors import ConfigurationError
from hermes.lightmodel import Spec
from hermes.settings import Settings, load_settings, to_environ
from scripts import light_specs
from tests.support.examples import examples

ROOT = Path(__file__).resolve().parents[3]

_NUMBERS = st.one_of(
    st.integers(-5, 5).map(str),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(-2000, 2000, places=3).map(str),
    st.sampled_from(["", " 5", "5 ", "1_000", "0x10", "1e3", "05", "-0", "+1", "1.", ".5", "0.0", "١٢", "5\n"]),
)
_WORDS = st.sampled_from(
    [
        "",
        "true",
        "false",
        "True",
        "yes",
        "off",
        "1",
        "0",
        "documents",
        "Docs",
        "_hidden",
        "a b",
        "books-2",
        "http://es:9200/",
        "https://es.example:9243//",
        "file:///data/r.ndjson",
        "ftp://x",
        "localhost:9200",
        "30d",
        "0d",
        "12h",
        "36500d",
        "36501d",
        "5ms",
        "30 days",
        "x" * 31,
        "x" * 32,
        "é" * 16,
        "\ud800" * 40,
        "{}",
        '{"fields": {}}',
    ]
)
_VALUE = st.one_of(_NUMBERS, _WORDS, st.text(max_size=40))


def _typed(spec: Spec) -> st.SearchStrategy[str]:
    """Values of the field's kind around its bounds: mostly valid, some just outside."""
    low = spec.bounds.get("ge", spec.bounds.get("gt", -1000))
    high = spec.bounds.get("le", spec.bounds.get("lt", 10**7))
    if spec.kind == "int":
        return st.integers(low - 1, high + 1).map(str)
    if spec.kind == "float":
        return st.floats(low - 1, high + 1, allow_nan=False).map(lambda x: f"{x:.3f}")
    if spec.kind == "bool":
        return st.sampled_from(["true", "false", "1", "0"])
    return _WORDS


@st.composite
def environments(draw: st.DrawFn) -> dict[str, str]:
    """Some of the settings' variables, each with a value that may or may not be valid."""
    chosen = draw(st.lists(st.sampled_from(specs.SETTINGS), unique_by=lambda s: s.key, max_size=5))
    env = {}
    for spec in chosen:
        key = draw(st.sampled_from([spec.key, spec.key.lower()]))
        env[key] = draw(st.one_of(_typed(spec), _typed(spec), _VALUE))
    return env


def _same(light: object, full: Settings) -> None:
    for name in Settings.model_fields:
        mine, theirs = getattr(light, name), getattr(full, name)
        if hasattr(theirs, "get_secret_value"):
            assert mine.get_secret_value() == theirs.get_secret_value(), name  # type: ignore[attr-defined]
        else:
            assert mine == theirs, name
            assert type(mine) is type(theirs), name
    assert (light.analytics_prefix, light.state_index) == (full.analytics_prefix, full.state_index)  # type: ignore[attr-defined]


@settings(max_examples=examples(800), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(environments())
@example({"ES_USERNAME": "elastic"})
@example({"ES_USERNAME": "elastic", "ES_PASSWORD": "secret"})
@example({"HERMES_SEARCH_KEY_PREVIOUS_SECRET": "x" * 32})
@example({"HERMES_ES_TIMEOUT_S": "inf"})
@example({"HERMES_ANALYTICS": "TRUE"})
@example({"es_index": "books", "ES_INDEX": "films"})
def test_the_light_reader_answers_only_what_pydantic_answers(env: dict[str, str]) -> None:
    light = read_settings(env)
    try:
        full = load_settings(env)
    except ConfigurationError:
        assert light is None
        return
    if light is not None:
        _same(light, full)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"ES_URL": "https://es.example:9243/", "ES_INDEX": "books", "HERMES_ES_TIMEOUT_S": "3.5"},
        {"ES_API_KEY": "k", "HERMES_SEARCH_KEY_SECRET": "s" * 32, "HERMES_RATE_LIMIT": "600"},
        {"ES_USERNAME": "elastic", "ES_PASSWORD": "pw", "HERMES_ANALYTICS": "true", "HERMES_RECENCY": "30d"},
    ],
)
def test_a_deployments_settings_are_read_without_pydantic(env: dict[str, str]) -> None:
    """The forms a deployment writes (the Helm chart, docs/configuration.md) stay on the light path."""
    light = read_settings(env)
    assert light is not None
    _same(light, load_settings(env))
    assert to_environ(light) == to_environ(load_settings(env))  # type: ignore[arg-type]  # a function's environment from either


def test_a_field_the_light_reader_cannot_build_comes_from_pydantic() -> None:
    light = read_settings({"ES_INDEX": "books"})
    assert light is not None
    assert light.field_schema == Settings().field_schema  # the empty schema, read from the model when asked


def test_every_field_of_settings_has_a_spec() -> None:
    assert [s.name for s in specs.SETTINGS] == list(Settings.model_fields)


def test_the_committed_specs_are_what_the_models_render() -> None:
    """Fails when a model changed without `make docs` (python -m scripts.light_specs --write)."""
    for target in light_specs.FILES:
        assert target.read_text(encoding="utf-8") == light_specs.render(target), f"{target} is stale: run make docs"


def test_a_field_with_a_validator_of_its_own_is_left_to_pydantic() -> None:
    """A validator written inside a model class cannot run without pydantic: the generator makes its field
    ``other`` (the light reader then asks pydantic whenever it is given); a plain function is kept."""
    from pydantic import BaseModel, Field, field_validator

    from hermes.checks import index_name

    class Model(BaseModel):
        own: int = Field(1, ge=0)
        shared: str = "documents"
        plain: float = 2.0

        _shared = field_validator("shared")(index_name)

        @field_validator("own")
        @classmethod
        def _own(cls, value: int) -> int:
            return value

    specs_of = {name: light_specs._spec(Model, name, f, "alias") for name, f in Model.model_fields.items()}
    assert specs_of["own"]["kind"] == "other"
    assert specs_of["shared"]["kind"] == "str"
    assert specs_of["shared"]["checks"] == [index_name]
    assert (specs_of["plain"]["kind"], specs_of["plain"]["default"]) == ("float", 2.0)


def test_an_invalid_value_is_named_by_pydantics_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERMES_ES_TIMEOUT_S", "-1")
    with pytest.raises(ConfigurationError) as light_path:
        get_settings()
    with pytest.raises(ConfigurationError) as model:
        load_settings()
    assert light_path.value.message == model.value.message
    assert "HERMES_ES_TIMEOUT_S" in light_path.value.message


@pytest.mark.slow  # a process per value; the test above checks the same message in process
@pytest.mark.parametrize(
    ("name", "value"),
    [("HERMES_ES_TIMEOUT_S", "soon"), ("ES_INDEX", "Bad Name"), ("HERMES_SEARCH_KEY_SECRET", "short")],
)
def test_bad_configuration_stops_the_search_function_naming_the_variable(name: str, value: str) -> None:
    """Start-up as functions-framework does it: the module's import reads the settings and exits."""
    probe = "from functions_framework import create_app; create_app('search', 'functions/search/main.py')"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), name: value}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 2
    assert f"hermes: invalid configuration: {name}:" in out.stderr
