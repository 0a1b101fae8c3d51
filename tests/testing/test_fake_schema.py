"""The fake providers' structured answers are valid against the schema they were sent,
as a real model's are: pydantic models a client would ask for validate them."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from aisonar.testing.fake_schema import answer_value, schema_instance


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    number: Annotated[int, Field(ge=1, le=9999)]


class Person(BaseModel):
    name: Annotated[str, Field(min_length=40)]
    born: date
    seen: datetime
    height: Annotated[float, Field(gt=0.5)] | None = None
    tags: Annotated[list[str], Field(min_length=2)]
    home: Address
    previous: list[Address]
    favourite: Colour
    kind: Literal["person"]
    nickname: str | None
    scores: dict[str, int]


class Tree(BaseModel):
    label: str
    children: list[Tree]


@pytest.mark.parametrize("model", [Person, Address, Tree])
def test_an_instance_validates_against_the_pydantic_model_that_made_the_schema(
    model: type[BaseModel],
) -> None:
    made = schema_instance(model.model_json_schema(), "Echo: hello")
    model.model_validate(made)


def test_gemini_openapi_schemas_in_capitals_and_strings_from_the_text() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {"answer": {"type": "STRING"}, "count": {"type": "INTEGER"}},
        "required": ["answer", "count"],
    }
    assert schema_instance(schema, "Echo: hi") == {"answer": "Echo: hi", "count": 0}


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        (None, {"echo": "hi"}),
        ({"type": "object"}, {"echo": "hi"}),
        ({"type": "object", "properties": {}}, {"echo": "hi"}),
        ({"type": "object", "properties": {"city": {"type": "string"}}}, {"city": "hi"}),
        ({"enum": ["a", "b"]}, "a"),
        ({"type": "array", "items": {"type": "string"}}, ["hi"]),
    ],
)
def test_an_answer_follows_the_schema_or_echoes_when_no_shape_is_asked_for(
    schema: Any, value: Any
) -> None:
    assert answer_value(schema, "hi") == value
