"""Structured output across every pair of formats, over real HTTP with the official SDKs and
pydantic schemas: OpenAI chat (`response_format`), Responses (`text.format`), Anthropic
(`output_config.format`) and Gemini (`responseSchema`) clients, each asking a GPT, a Claude
and a Gemini model, plain and streamed. The fake upstreams answer with a value valid against
the schema they are sent (`fake_schema`), so an answer that parses into the pydantic model
shows the schema reached the upstream in its own format."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import AsyncIterator
from typing import Any, Literal

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types
from pydantic import BaseModel, Field

from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Tenant

GPT, CLAUDE, GEMINI = "gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"
MODELS = [GPT, CLAUDE, GEMINI]
# Where each model's schema lands in the request its upstream receives (a Responses request
# to GPT goes to OpenAI's Responses API as it is; the google-genai SDK sends a Gemini model
# an OpenAPI `responseSchema`, the gateway a JSON schema).
UPSTREAM_SCHEMA = {
    GPT: ("response_format", "json_schema", "schema"),
    CLAUDE: ("output_config", "format", "schema"),
    GEMINI: ("generationConfig", "responseJsonSchema"),
}
RESPONSES_SCHEMA = {**UPSTREAM_SCHEMA, GPT: ("text", "format", "schema")}
GEMINI_SCHEMA_NAMES = ("responseJsonSchema", "responseSchema")


class Day(BaseModel):
    date: datetime.date
    outlook: Literal["sunny", "rainy"]


class Forecast(BaseModel):
    city: str
    temperature: int = Field(ge=-40, le=50)
    days: list[Day]
    note: str | None


@pytest.fixture
async def openai_client(
    gateway: RunningGateway, tenant: Tenant
) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as sdk:
        yield sdk


@pytest.fixture
async def anthropic_client(
    gateway: RunningGateway, tenant: Tenant
) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=gateway.url, api_key=tenant.secret, max_retries=0
    ) as sdk:
        yield sdk


@pytest.fixture
def gemini_client(gateway: RunningGateway, tenant: Tenant) -> genai.Client:
    options = genai_types.HttpOptions(
        base_url=gateway.url, retry_options=genai_types.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=tenant.secret, http_options=options)


def prompt() -> str:
    return f"forecast for {secrets.token_hex(6)}"


def assert_forecast(
    parsed: Any, asked: str, model: str, fake_upstream: FakeUpstream, *, responses: bool = False
) -> None:
    """The answer parsed into the schema, its strings from the prompt, and the schema went
    upstream in the model's own format."""
    assert isinstance(parsed, Forecast)
    assert parsed.city == asked
    assert parsed.days and parsed.days[0].outlook == "sunny"
    received: Any = fake_upstream.received[-1]
    *parents, name = (RESPONSES_SCHEMA if responses else UPSTREAM_SCHEMA)[model]
    for key in parents:
        received = received[key]
    names = GEMINI_SCHEMA_NAMES if model == GEMINI else (name,)
    [schema] = [received[name] for name in names if name in received]
    assert str(schema["properties"]["city"]["type"]).lower() == "string"


@pytest.mark.parametrize("model", MODELS)
async def test_openai_chat_parse(
    openai_client: openai.AsyncOpenAI, fake_upstream: FakeUpstream, model: str
) -> None:
    asked = prompt()
    completion = await openai_client.chat.completions.parse(
        model=model, messages=[{"role": "user", "content": asked}], response_format=Forecast
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert_forecast(choice.message.parsed, asked, model, fake_upstream)


@pytest.mark.parametrize("model", MODELS)
async def test_openai_chat_parse_streamed(
    openai_client: openai.AsyncOpenAI, fake_upstream: FakeUpstream, model: str
) -> None:
    asked = prompt()
    async with openai_client.chat.completions.stream(
        model=model, messages=[{"role": "user", "content": asked}], response_format=Forecast
    ) as stream:
        completion = await stream.get_final_completion()
    assert completion.choices[0].finish_reason == "stop"
    assert_forecast(completion.choices[0].message.parsed, asked, model, fake_upstream)


@pytest.mark.parametrize("model", MODELS)
async def test_responses_parse(
    openai_client: openai.AsyncOpenAI, fake_upstream: FakeUpstream, model: str
) -> None:
    asked = prompt()
    response = await openai_client.responses.parse(model=model, input=asked, text_format=Forecast)
    assert_forecast(response.output_parsed, asked, model, fake_upstream, responses=True)


@pytest.mark.parametrize("model", MODELS)
async def test_responses_parse_streamed(
    openai_client: openai.AsyncOpenAI, fake_upstream: FakeUpstream, model: str
) -> None:
    asked = prompt()
    async with openai_client.responses.stream(
        model=model, input=asked, text_format=Forecast
    ) as stream:
        response = await stream.get_final_response()
    assert_forecast(response.output_parsed, asked, model, fake_upstream, responses=True)


@pytest.mark.parametrize("model", MODELS)
async def test_anthropic_output_format(
    anthropic_client: anthropic.AsyncAnthropic, fake_upstream: FakeUpstream, model: str
) -> None:
    asked = prompt()
    message = await anthropic_client.messages.parse(
        model=model,
        max_tokens=1024,
        messages=[{"role": "user", "content": asked}],
        output_format=Forecast,
    )
    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]
    assert_forecast(message.parsed_output, asked, model, fake_upstream)


@pytest.mark.parametrize("model", MODELS)
async def test_anthropic_output_format_streamed(
    anthropic_client: anthropic.AsyncAnthropic, fake_upstream: FakeUpstream, model: str
) -> None:
    asked = prompt()
    async with anthropic_client.messages.stream(
        model=model,
        max_tokens=1024,
        messages=[{"role": "user", "content": asked}],
        output_format=Forecast,
    ) as stream:
        message = await stream.get_final_message()
    assert message.stop_reason == "end_turn"
    assert_forecast(message.parsed_output, asked, model, fake_upstream)


def gemini_config() -> genai_types.GenerateContentConfig:
    return genai_types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=Forecast
    )


@pytest.mark.parametrize("model", MODELS)
async def test_gemini_response_schema(
    gemini_client: genai.Client, fake_upstream: FakeUpstream, model: str
) -> None:
    asked = prompt()
    response = await gemini_client.aio.models.generate_content(
        model=model, contents=asked, config=gemini_config()
    )
    assert_forecast(response.parsed, asked, model, fake_upstream)


@pytest.mark.parametrize("model", MODELS)
async def test_gemini_response_schema_streamed(
    gemini_client: genai.Client, fake_upstream: FakeUpstream, model: str
) -> None:
    asked = prompt()
    stream = await gemini_client.aio.models.generate_content_stream(
        model=model, contents=asked, config=gemini_config()
    )
    text = "".join([chunk.text or "" async for chunk in stream])
    assert_forecast(Forecast.model_validate_json(text), asked, model, fake_upstream)


# What the forecast's schema asks that Anthropic's structured outputs do not enforce: the
# temperature's bounds (`Field(ge=-40, le=50)`).
UNENFORCED = ("properties.temperature.maximum", "properties.temperature.minimum")
DROPPED = "x-aisonar-dropped-fields"


def named(field: str) -> str:
    return ", ".join(f"{field}.{path}" for path in UNENFORCED)


@pytest.mark.parametrize("model", MODELS)
async def test_what_a_claude_model_is_not_held_to_is_named_in_each_clients_terms(
    openai_client: openai.AsyncOpenAI, gemini_client: genai.Client, model: str
) -> None:
    messages: Any = [{"role": "user", "content": prompt()}]
    chat = await openai_client.chat.completions.with_raw_response.parse(
        model=model, messages=messages, response_format=Forecast
    )
    responses = await openai_client.responses.with_raw_response.parse(
        model=model, input=prompt(), text_format=Forecast
    )
    gemini = await gemini_client.aio.models.generate_content(
        model=model, contents=prompt(), config=gemini_config()
    )
    assert gemini.sdk_http_response is not None and gemini.sdk_http_response.headers is not None
    shown = [chat.headers.get(DROPPED), responses.headers.get(DROPPED)]
    shown.append(gemini.sdk_http_response.headers.get(DROPPED))
    if model == CLAUDE:
        # The google-genai SDK sends the schema as an OpenAPI `responseSchema`.
        assert shown == [
            named("response_format.json_schema.schema"),
            named("text.format.schema"),
            named("generationConfig.responseSchema"),
        ]
    else:
        assert shown == [None, None, None]
    assert isinstance(chat.parse().choices[0].message.parsed, Forecast)
