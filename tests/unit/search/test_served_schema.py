"""The served schema's cache: refresh, forget, and a search key without view_index_metadata (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from hermes.client import ElasticsearchStatusError
from hermes.schema import EMPTY, Schema
from hermes.search.served import ServedSchema

RECORDED = {"fields": {"pages": {"type": "number", "filter": True}}}


class Reader:
    """Answers ``mapping_meta`` like hermes.search.reader.Reader, from a script of answers."""

    def __init__(self, *answers: Any) -> None:
        self.answers, self.calls = list(answers), 0

    def mapping_meta(self, alias: str) -> dict[str, dict[str, Any]]:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]


def test_the_newest_index_schema_is_kept_until_forgotten() -> None:
    reader = Reader({"a-1": {"hermes_schema": {}}, "a-2": {"hermes_schema": RECORDED}}, {"a-3": {}})
    served = ServedSchema(refresh_s=3600)
    assert served.get(reader, "a") == Schema.model_validate(RECORDED)  # type: ignore[arg-type]
    assert served.get(reader, "a") == Schema.model_validate(RECORDED)  # type: ignore[arg-type]
    assert reader.calls == 1
    served.forget()
    assert served.get(reader, "a") == EMPTY  # type: ignore[arg-type]  # an index built before schemas
    assert reader.calls == 2


def test_without_the_privilege_to_read_mappings_the_core_fields_are_served(caplog: pytest.LogCaptureFixture) -> None:
    served = ServedSchema(refresh_s=3600)
    assert served.get(Reader(ElasticsearchStatusError(403, {})), "a") == EMPTY  # type: ignore[arg-type]
    assert "no privilege" in caplog.text
    with pytest.raises(ElasticsearchStatusError):  # anything else is Elasticsearch's failure: a 5xx answer
        ServedSchema(refresh_s=3600).get(Reader(ElasticsearchStatusError(500, {})), "a")  # type: ignore[arg-type]


def test_the_last_schema_is_there_when_elasticsearch_is_not() -> None:
    served = ServedSchema(refresh_s=0)
    assert served.cached() == EMPTY
    served.get(Reader({"a-1": {"hermes_schema": RECORDED}}), "a")  # type: ignore[arg-type]
    assert served.cached() == Schema.model_validate(RECORDED)


def test_the_light_empty_schema_answers_as_the_models_empty_one() -> None:
    """Every field of ``Schema()``, at every depth, read from the search path's pydantic-free empty schema."""
    from pydantic import BaseModel

    from hermes import schema_light

    def walk(model: BaseModel, light: object, path: str) -> None:
        for name in type(model).model_fields:
            theirs, mine = getattr(model, name), getattr(light, name)
            if isinstance(theirs, BaseModel):
                walk(theirs, mine, f"{path}.{name}")
            else:
                assert mine == theirs, f"{path}.{name}"

    walk(Schema(), schema_light.EMPTY, "schema")
    assert schema_light.EMPTY.geo_field == Schema().geo_field
    assert schema_light.EMPTY.recorded() == Schema().recorded()
    assert Schema() == schema_light.EMPTY
    assert Schema() == schema_light.EMPTY
    assert Schema.model_validate({"fields": {"lang": {"type": "keyword"}}}) != schema_light.EMPTY


@pytest.mark.parametrize("recorded", [None, {}, "not a schema"])
def test_an_index_that_declares_nothing_is_read_without_the_model(recorded: object) -> None:
    from hermes import schema_light

    assert schema_light.is_empty_record(recorded)
    assert Schema.from_recorded(recorded) == Schema()
