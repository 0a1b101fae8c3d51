"""A hub `response_format` for Anthropic: structured outputs on models that have them, with the
schema adjusted to what Anthropic enforces, and a forced tool call on older models, turned
back into the answer's JSON text, whole and streamed. The round trips go over HTTP to the
fake Anthropic upstream, which answers with a value valid against what it is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel

from aisonar.billing.output_limits import model_structured_output
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.sse import SseSplitter
from aisonar.gateway.wire.anthropic.hub_upstream import (
    AnthropicStreamToHub,
    anthropic_response_to_hub,
)
from aisonar.gateway.wire.anthropic.structured import (
    JSON_TOOL,
    anthropic_schema,
    unenforced_keywords,
)
from aisonar.gateway.wire.anthropic.upstream import ANTHROPIC_VERSION, MESSAGES_PATH
from aisonar.gateway.wire.hub import JsonObject, UnsupportedFeature
from aisonar.testing.fake_upstream import FakeUpstream
from tests.conftest import UPSTREAM_KEY
from tests.gateway.wire.anthropic.cases import HUB_WEATHER_TOOL, WEATHER_SCHEMA, to_anthropic

# A model with structured outputs, and one without (released before them).
CURRENT, OLDER = "claude-haiku-4-5", "claude-3-5-haiku-20241022"
SCHEMA: JsonObject = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2, "description": "Where."},
        "temperature": {"type": "integer", "minimum": -40},
        "days": {"type": "array", "items": {"type": "string", "format": "date"}, "minItems": 1},
    },
    "required": ["city", "temperature", "days"],
    "additionalProperties": False,
}


class Forecast(BaseModel):
    city: str
    temperature: int
    days: list[str]


def json_schema(schema: JsonObject = SCHEMA, **spec: Any) -> JsonObject:
    return {"type": "json_schema", "json_schema": {"name": "forecast", "schema": schema, **spec}}


def request(model: str, response_format: JsonObject, **fields: Any) -> JsonObject:
    return to_anthropic(
        {
            "model": model,
            "messages": [{"role": "user", "content": "in Oslo"}],
            "response_format": response_format,
            **fields,
        }
    )


# Hub request -> Anthropic request


@pytest.mark.parametrize(
    ("model", "provider", "structured"),
    [
        # The catalogue's flag where it has one.
        ("gpt-4o-mini", "openai", True),
        ("gemini-2.5-flash", "gemini", True),
        # Claude by release date: Opus 4.1 was the first with structured outputs.
        ("claude-haiku-4-5", "anthropic", True),
        ("claude-opus-4-1", "anthropic", True),
        ("claude-sonnet-4-20250514", "anthropic", False),
        (OLDER, "anthropic", False),
        ("claude-in-no-catalogue", "anthropic", None),
    ],
)
def test_which_models_have_structured_outputs(
    model: str, provider: str, structured: bool | None
) -> None:
    assert model_structured_output(model, provider) is structured


def test_a_model_the_catalogue_does_not_know_gets_structured_outputs() -> None:
    sent = request("claude-in-no-catalogue", json_schema())

    assert sent["output_config"]["format"]["type"] == "json_schema"


def test_a_json_schema_becomes_output_config_on_a_model_with_structured_outputs() -> None:
    sent = request(CURRENT, json_schema(strict=True))

    properties = {
        "city": {"type": "string", "description": "Where.\n\n{minLength: 2}"},
        "temperature": {"type": "integer", "description": "{minimum: -40}"},
        "days": SCHEMA["properties"]["days"],
    }
    schema = {**SCHEMA, "properties": properties}
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "tools" not in sent and "tool_choice" not in sent


def test_a_text_response_format_adds_nothing() -> None:
    sent = request(CURRENT, {"type": "text"})

    assert "output_config" not in sent and "tools" not in sent


@pytest.mark.parametrize(
    ("schema", "adjusted"),
    [
        # Anthropic requires closed objects.
        (
            {"type": "object", "properties": {"a": {"type": "string"}}},
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": False,
            },
        ),
        # Constraints it does not enforce go into the description.
        (
            {"type": "string", "minLength": 2, "maxLength": 9, "description": "A name."},
            {"type": "string", "description": "A name.\n\n{minLength: 2, maxLength: 9}"},
        ),
        ({"type": "number", "minimum": 0}, {"type": "number", "description": "{minimum: 0}"}),
        (
            {"type": "string", "format": "email", "pattern": "^a"},
            {"type": "string", "format": "email", "description": "{pattern: ^a}"},
        ),
        (
            {"type": "string", "format": "color"},
            {"type": "string", "description": "{format: color}"},
        ),
        (
            {"type": "array", "items": {"type": "integer"}, "minItems": 3},
            {"type": "array", "items": {"type": "integer"}, "description": "{minItems: 3}"},
        ),
        # oneOf is read as anyOf; definitions are adjusted too.
        (
            {
                "oneOf": [{"$ref": "#/$defs/x"}, {"type": "null"}],
                "$defs": {"x": {"type": "object"}},
            },
            {
                "anyOf": [{"$ref": "#/$defs/x"}, {"type": "null"}],
                "$defs": {"x": {"type": "object", "additionalProperties": False}},
            },
        ),
        # An open object is closed, and what it allowed is said in the description.
        (
            {"type": "object", "properties": {}, "additionalProperties": {"type": "string"}},
            {
                "type": "object",
                "properties": {},
                "additionalProperties": False,
                "description": "{additionalProperties: {'type': 'string'}}",
            },
        ),
    ],
)
def test_schema_keywords_anthropic_does_not_enforce_are_adjusted(
    schema: JsonObject, adjusted: JsonObject
) -> None:
    assert anthropic_schema(schema) == adjusted


def test_what_anthropic_does_not_enforce_is_listed_by_its_path_in_the_schema() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **SCHEMA,
        "properties": {
            **SCHEMA["properties"],
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            "wind": {"oneOf": [{"type": "number", "maximum": 300}, {"$ref": "#/$defs/calm"}]},
        },
        "$defs": {"calm": {"type": "string", "pattern": "^calm$"}},
    }
    hub = {"model": CURRENT, "response_format": json_schema(schema)}

    assert unenforced_keywords(hub) == [
        "$schema",
        "properties.city.minLength",
        "properties.temperature.minimum",
        "properties.tags.additionalProperties",
        "properties.wind.oneOf",
        "properties.wind.oneOf[0].maximum",
        "$defs.calm.pattern",
    ]


@pytest.mark.parametrize(
    ("model", "response_format"),
    [
        # Sent as a forced tool, whose input schema goes as it is.
        (OLDER, json_schema()),
        (CURRENT, {"type": "json_object"}),
        (CURRENT, {"type": "text"}),
    ],
)
def test_nothing_is_listed_for_a_schema_sent_as_it_is(
    model: str, response_format: JsonObject
) -> None:
    assert unenforced_keywords({"model": model, "response_format": response_format}) == []
    assert unenforced_keywords({"model": model}) == []


def test_json_object_is_a_forced_tool_taking_any_object() -> None:
    sent = request(CURRENT, {"type": "json_object"})

    assert sent["tools"] == [
        {
            "name": JSON_TOOL,
            "description": "Give your whole answer as this tool's input.",
            "input_schema": {"type": "object"},
        }
    ]
    assert sent["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    assert "output_config" not in sent


def test_a_json_schema_is_a_forced_tool_on_a_model_without_structured_outputs() -> None:
    sent = request(OLDER, json_schema(description="The forecast."))

    assert sent["tools"] == [
        {"name": JSON_TOOL, "description": "The forecast.", "input_schema": SCHEMA}
    ]
    assert sent["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    assert "output_config" not in sent


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected_choice", "json_tool"),
    [
        # The model may call the client's tool or answer in JSON, not answer in free text.
        (None, None, {"type": "any"}, True),
        ("auto", False, {"type": "any", "disable_parallel_tool_use": True}, True),
        ("none", None, {"type": "tool", "name": JSON_TOOL}, True),
        # A forced call of the client's tool leaves no text for the format to shape.
        ("required", None, {"type": "any"}, False),
        (
            {"type": "function", "function": {"name": "weather"}},
            None,
            {"type": "tool", "name": "weather"},
            False,
        ),
    ],
)
def test_the_forced_tool_beside_the_clients_tools(
    tool_choice: Any, parallel: bool | None, expected_choice: JsonObject, json_tool: bool
) -> None:
    fields: JsonObject = {"tools": [HUB_WEATHER_TOOL]}
    if tool_choice is not None:
        fields["tool_choice"] = tool_choice
    if parallel is not None:
        fields["parallel_tool_calls"] = parallel
    sent = request(OLDER, {"type": "json_object"}, **fields)

    names = [tool["name"] for tool in sent["tools"]]
    assert names == (["weather", JSON_TOOL] if json_tool else ["weather"])
    assert sent["tool_choice"] == expected_choice


def test_the_forced_tool_is_refused_with_thinking() -> None:
    with pytest.raises(UnsupportedFeature) as refused:
        request(OLDER, json_schema(), reasoning_effort="low", max_tokens=4096)
    assert refused.value.features == ["response_format"]
    assert "thinking" in str(refused.value)


def test_structured_outputs_work_with_thinking() -> None:
    sent = request(CURRENT, json_schema(), reasoning_effort="low", max_tokens=4096)

    assert sent["thinking"]["type"] == "enabled"
    assert sent["output_config"]["format"]["type"] == "json_schema"


def test_a_schema_that_is_not_an_object_is_refused_for_the_forced_tool() -> None:
    with pytest.raises(UnsupportedFeature) as refused:
        request(OLDER, json_schema({"type": "array", "items": {"type": "string"}}))
    assert refused.value.features == ["response_format"]


def test_the_json_tools_name_is_reserved() -> None:
    tool = {**HUB_WEATHER_TOOL, "function": {"name": JSON_TOOL, "parameters": WEATHER_SCHEMA}}
    with pytest.raises(InvalidRequest) as refused:
        request(CURRENT, {"type": "text"}, tools=[tool])
    assert refused.value.param == "tools"


def test_an_unknown_response_format_is_refused() -> None:
    with pytest.raises(UnsupportedFeature) as refused:
        request(CURRENT, {"type": "grammar"})
    assert refused.value.features == ["response_format.type"]


# Round trips through the fake Anthropic upstream


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def post(session: aiohttp.ClientSession, fake: FakeUpstream, body: JsonObject) -> bytes:
    headers = {"x-api-key": UPSTREAM_KEY, "anthropic-version": ANTHROPIC_VERSION}
    async with session.post(fake.root_url + MESSAGES_PATH, json=body, headers=headers) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.read()


async def whole(session: aiohttp.ClientSession, fake: FakeUpstream, sent: JsonObject) -> Any:
    return anthropic_response_to_hub(orjson.loads(await post(session, fake, sent)))


async def streamed(
    session: aiohttp.ClientSession, fake: FakeUpstream, sent: JsonObject
) -> ChatCompletion:
    body = await post(session, fake, {**sent, "stream": True})
    reader = AnthropicStreamToHub()
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    events = SseSplitter().feed(body + b"\n\n")
    chunks = [chunk for event in events for chunk in reader.feed(event)] + reader.finish()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.get_final_completion()


@pytest.mark.parametrize("model", [CURRENT, OLDER])
async def test_a_json_schema_answer_comes_back_as_json_text(
    session: aiohttp.ClientSession, fake_upstream: FakeUpstream, model: str
) -> None:
    sent = request(model, json_schema())

    answer = await whole(session, fake_upstream, sent)
    completion = await streamed(session, fake_upstream, sent)

    choice = answer["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]
    parsed = Forecast.model_validate_json(choice["message"]["content"])
    assert parsed.city == "in Oslo"
    assert completion.choices[0].finish_reason == "stop"
    assert not completion.choices[0].message.tool_calls
    assert Forecast.model_validate_json(completion.choices[0].message.content or "") == parsed


async def test_a_json_object_answer_comes_back_as_json_text(
    session: aiohttp.ClientSession, fake_upstream: FakeUpstream
) -> None:
    sent = request(CURRENT, {"type": "json_object"})

    answer = await whole(session, fake_upstream, sent)
    completion = await streamed(session, fake_upstream, sent)

    assert answer["choices"][0]["finish_reason"] == "stop"
    assert orjson.loads(answer["choices"][0]["message"]["content"]) == {"echo": "in Oslo"}
    assert completion.choices[0].finish_reason == "stop"
    assert orjson.loads(completion.choices[0].message.content or "") == {"echo": "in Oslo"}


async def test_a_call_of_the_clients_tool_stays_a_tool_call(
    session: aiohttp.ClientSession, fake_upstream: FakeUpstream
) -> None:
    sent = request(OLDER, json_schema(), tools=[HUB_WEATHER_TOOL], tool_choice="required")

    answer = await whole(session, fake_upstream, sent)
    completion = await streamed(session, fake_upstream, sent)

    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert [call["function"]["name"] for call in choice["message"]["tool_calls"]] == ["weather"]
    assert completion.choices[0].finish_reason == "tool_calls"
    calls = completion.choices[0].message.tool_calls or []
    assert [call.function.name for call in calls if call.type == "function"] == ["weather"]
