"""The Responses API (`POST /v1/responses`) on Anthropic and Gemini models: the official
`openai` SDK over real HTTP, plain and streamed, with tools, a function output turn and
structured output; Codex's captured requests replayed; each answer billed and metered
like a translated chat completion."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from aisonar.gateway.sse import SseSplitter, event_data
from aisonar.gateway.wire.responses.compaction import (
    COMPACTION_PROMPT,
    SUMMARY_INTRODUCTION,
    compaction_item,
    summary_of,
)
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.sdk_clients import WEATHER_PARAMETERS
from tests.support import Backend, Tenant, recorded_events

CLAUDE, GEMINI, GPT = "claude-haiku-4-5", "gemini-2.5-flash", "gpt-4o-mini"
TRANSLATED = [CLAUDE, GEMINI]
# Codex's requests as it sends them (captured from the Codex CLI 0.171.0, long texts
# replaced).
CAPTURED = Path(__file__).resolve().parent / "agent_requests"
CODEX_REQUESTS = ["codex_responses_to_claude-sonnet-4-6.json", "codex_responses_compaction.json"]
DROPPED = "x-aisonar-dropped-fields"
# What Codex sends that Anthropic and Gemini have no place for: OpenAI's encrypted
# reasoning, its own tags, OpenAI's storage and cache hints, and (Gemini) the parallel calls
# switch.
_CODEX_DROPPED = ["include", "client_metadata", "prompt_cache_key", "store"]
CODEX_DROPPED = {
    model: [*_CODEX_DROPPED, *(["parallel_tool_calls"] if model == GEMINI else [])]
    for model in TRANSLATED
}
WEATHER_TOOL: Any = {"type": "function", "name": "get_weather", "parameters": WEATHER_PARAMETERS}
# OpenAI's order of events for one streamed output item of each kind.
_ITEM_EVENTS = {
    "message": [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ],
    "reasoning": [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ],
    "function_call": [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ],
}


@pytest.fixture
async def client(gateway: RunningGateway, tenant: Tenant) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as sdk:
        yield sdk


def _collapsed(kinds: list[str]) -> list[str]:
    """Event types with runs of the same delta collapsed to one."""
    out: list[str] = []
    for kind in kinds:
        if not (out and kind == out[-1] and kind.endswith(".delta")):
            out.append(kind)
    return out


def assert_well_formed(events: list[Any]) -> Any:
    """The events of one streamed Response in OpenAI's order; returns the final Response."""
    assert [event.sequence_number for event in events] == list(range(len(events)))
    kinds = _collapsed([event.type for event in events])
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    final = events[-1].response
    expected = ["response.created", "response.in_progress"]
    for item in final.output:
        expected += _ITEM_EVENTS[item.type]
    assert kinds == [*expected, "response.completed"]
    added = [event.item.id for event in events if event.type == "response.output_item.added"]
    assert added == [item.id for item in final.output]
    return final


@pytest.mark.parametrize("model", TRANSLATED)
async def test_text_plain_and_streamed_is_charged_like_chat(
    client: openai.AsyncOpenAI, backend: Backend, tenant: Tenant, model: str
) -> None:
    marker = secrets.token_hex(6)
    plain = await client.responses.create(
        model=model, instructions="Be brief.", input=f"say {marker}", max_output_tokens=64
    )
    stream = await client.responses.create(model=model, input=f"say {marker}", stream=True)
    events = [event async for event in stream]
    streamed = assert_well_formed(events)
    assert plain.status == "completed" and marker in plain.output_text
    assert marker in streamed.output_text
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == streamed.output_text
    recorded = await recorded_events(backend, tenant, 2)
    for event, response in zip(recorded, (plain, streamed), strict=True):
        assert response.usage is not None
        assert event.endpoint == "/v1/responses" and event.status_code == 200
        assert event.upstream_model == model and not event.tokens_estimated
        assert (event.input_tokens, event.output_tokens) == (
            response.usage.input_tokens,
            response.usage.output_tokens,
        )
        assert event.cost > 0
    assert [event.stream for event in recorded] == [False, True]


@pytest.mark.parametrize("model", TRANSLATED)
@pytest.mark.parametrize("stream", [False, True])
async def test_function_call_then_its_output(
    client: openai.AsyncOpenAI, model: str, stream: bool
) -> None:
    asked: Any = [{"role": "user", "content": "weather in Paris?"}]
    if stream:
        events = [
            event
            async for event in await client.responses.create(
                model=model, input=asked, tools=[WEATHER_TOOL], stream=True
            )
        ]
        first = assert_well_formed(events)
    else:
        first = await client.responses.create(model=model, input=asked, tools=[WEATHER_TOOL])
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and isinstance(json.loads(call.arguments), dict)
    turn: Any = [
        *asked,
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"},
    ]
    second = await client.responses.create(model=model, input=turn, tools=[WEATHER_TOOL])
    assert "sunny, 21C" in second.output_text


@pytest.mark.parametrize("model", TRANSLATED)
async def test_streamed_reasoning_is_a_summary_before_the_message(
    client: openai.AsyncOpenAI, model: str
) -> None:
    stream = await client.responses.create(
        model=model, input="think, then say hi", reasoning={"effort": "low"}, stream=True
    )
    final = assert_well_formed([event async for event in stream])
    if model == CLAUDE:  # the fake Gemini answers without thoughts
        assert [item.type for item in final.output] == ["reasoning", "message"]
        assert final.output[0].summary[0].text and final.output[0].encrypted_content is None


@pytest.mark.parametrize("model", TRANSLATED)
async def test_structured_output_follows_the_schema(
    client: openai.AsyncOpenAI, fake_upstream: FakeUpstream, model: str
) -> None:
    schema = {"type": "object", "properties": {"echo": {"type": "string"}}}
    text: Any = {"format": {"type": "json_schema", "name": "echo", "schema": schema}}
    answer = await client.responses.create(model=model, input="json please", text=text)
    assert json.loads(answer.output_text) == {"echo": "json please"}
    sent = fake_upstream.received[-1]
    if model == CLAUDE:
        assert sent["output_config"]["format"]["schema"]["properties"] == schema["properties"]
    else:
        assert sent["generationConfig"]["responseJsonSchema"] == schema


@pytest.mark.parametrize("model", TRANSLATED)
async def test_namespace_tools_are_flattened_and_hosted_tools_dropped(
    client: openai.AsyncOpenAI, model: str
) -> None:
    lookup = {"type": "function", "name": "lookup", "parameters": WEATHER_PARAMETERS}
    tools: Any = [
        {"type": "web_search"},
        {"type": "namespace", "name": "crm", "description": "The CRM.", "tools": [lookup]},
    ]
    raw = await client.responses.with_raw_response.create(
        model=model, input="find Paris", tools=tools, include=["reasoning.encrypted_content"]
    )
    assert raw.headers[DROPPED] == "tools[0], include"
    [call] = raw.parse().output
    assert call.type == "function_call" and (call.namespace, call.name) == ("crm", "lookup")
    turn: Any = [
        {"role": "user", "content": "find Paris"},
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "found"},
    ]
    answer = await client.responses.create(model=model, input=turn, tools=tools)
    assert "found" in answer.output_text


@pytest.mark.parametrize("model", [*TRANSLATED, GPT])
async def test_stored_state_is_refused_when_translated_only(
    client: openai.AsyncOpenAI, model: str
) -> None:
    asked: Any
    for asked in ({"previous_response_id": "resp_1"}, {"store": True}):
        if model == GPT:  # passed through to OpenAI, which keeps conversations
            await client.responses.create(model=model, input="hi", **asked)
            continue
        with pytest.raises(openai.BadRequestError) as refused:
            await client.responses.create(model=model, input="hi", **asked)
        assert "send the whole conversation" in refused.value.message


def stream_events(body: bytes) -> list[dict[str, Any]]:
    events = SseSplitter().feed(body + b"\n\n")
    return [orjson.loads(event_data(event)) for event in events if event_data(event)]


@pytest.mark.parametrize("name", CODEX_REQUESTS)
@pytest.mark.parametrize("model", [*TRANSLATED, GPT])
async def test_codex_requests_are_answered_and_charged(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, name: str, model: str
) -> None:
    body = {**orjson.loads((CAPTURED / name).read_bytes())["body"], "model": model}
    headers = {"authorization": f"Bearer {tenant.secret}"}
    async with (
        aiohttp.ClientSession(gateway.url) as http,
        http.post("/v1/responses", json=body, headers=headers) as answer,
    ):
        assert answer.status == 200, await answer.text()
        events = stream_events(await answer.read())
        dropped = answer.headers.get(DROPPED)
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed" and events[-1]["response"]["usage"]
    assert dropped == (None if model == GPT else ", ".join(CODEX_DROPPED[model]))
    if "compaction" in name and model != GPT:
        # Codex takes a compaction's answer only as exactly one compaction item.
        assert [item["type"] for item in events[-1]["response"]["output"]] == ["compaction"]
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 200 and event.cost > 0 and not event.tokens_estimated


async def post_codex(gateway: RunningGateway, tenant: Tenant, body: Any) -> list[dict[str, Any]]:
    headers = {"authorization": f"Bearer {tenant.secret}"}
    async with (
        aiohttp.ClientSession(gateway.url) as http,
        http.post("/v1/responses", json=body, headers=headers) as answer,
    ):
        assert answer.status == 200, await answer.text()
        return stream_events(await answer.read())


@pytest.mark.parametrize("model", TRANSLATED)
async def test_codex_compaction_is_a_summary_its_next_requests_carry(
    gateway: RunningGateway, tenant: Tenant, fake_upstream: FakeUpstream, model: str
) -> None:
    captured = orjson.loads((CAPTURED / "codex_responses_compaction.json").read_bytes())["body"]
    compaction = {**captured, "model": model}
    events = await post_codex(gateway, tenant, compaction)
    asked = fake_upstream.received[-1]
    if model == CLAUDE:
        # The conversation's calls stay declared; none may be made.
        assert asked["tool_choice"] == {"type": "none"} and asked["tools"]
        assert COMPACTION_PROMPT in json.dumps(asked["messages"][-1])
    else:
        assert asked["toolConfig"]["functionCallingConfig"]["mode"] == "NONE"
        assert COMPACTION_PROMPT in json.dumps(asked["contents"][-1])
    [item] = events[-1]["response"]["output"]
    done = [event["item"] for event in events if event["type"] == "response.output_item.done"]
    assert done == [item] and events[-1]["type"] == "response.completed"
    summary = summary_of(item)
    assert summary
    # Codex's next request: the user's messages, the compaction item, the new question.
    user_messages = [entry for entry in captured["input"] if entry.get("role") == "user"]
    turn = [*user_messages, item, {"role": "user", "content": "go on"}]
    answered = await post_codex(gateway, tenant, {**compaction, "input": turn})
    carried = json.dumps(fake_upstream.received[-1])
    assert json.dumps(SUMMARY_INTRODUCTION + summary)[1:-1] in carried
    assert "compaction" not in [item["type"] for item in answered[-1]["response"]["output"]]


async def test_usage_the_upstream_does_not_report_is_estimated_and_flagged(
    client: openai.AsyncOpenAI, backend: Backend, tenant: Tenant
) -> None:
    # Gemini may leave usage out; Anthropic always reports it.
    model, prompt = GEMINI, "count these words please [[fault:no_usage]]"
    plain = await client.responses.create(model=model, input=prompt)
    stream = await client.responses.create(model=model, input=prompt, stream=True)
    assert_well_formed([event async for event in stream])
    recorded = await recorded_events(backend, tenant, 2)
    assert plain.usage is not None
    assert (recorded[0].input_tokens, recorded[0].output_tokens) == (
        plain.usage.input_tokens,
        plain.usage.output_tokens,
    )
    for event in recorded:
        assert event.tokens_estimated and event.input_tokens > 0 and event.output_tokens > 0
        assert event.cost > 0


@pytest.mark.parametrize("model", TRANSLATED)
async def test_a_stream_the_upstream_breaks_off_ends_as_a_failed_response(
    client: openai.AsyncOpenAI, backend: Backend, tenant: Tenant, model: str
) -> None:
    prompt = "a long enough answer please [[fault:cut]]"
    events: list[Any] = []
    stream = await client.responses.create(model=model, input=prompt, stream=True)
    with pytest.raises(openai.APIError, match="broke off") as raised:
        async for event in stream:
            events.append(event)
    assert raised.value.code == "upstream_unavailable"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.failed"
    failed = events[-1].response
    assert (failed.id, failed.status) == (events[0].response.id, "failed")
    assert failed.error is not None and failed.error.code == "upstream_unavailable"
    assert "broke off" in failed.error.message
    delivered = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert delivered and [item.status for item in failed.output] == ["incomplete"]
    assert failed.output[0].content[0].text == delivered
    # The SDK's stream helper raises it too.
    async with client.responses.stream(model=model, input=prompt) as helper:
        with pytest.raises(openai.APIError, match="broke off"):
            async for _ in helper:
                pass
    for event in await recorded_events(backend, tenant, 2):
        assert event.status_code == 502 and event.error_type == "upstream_error"
        assert event.tokens_estimated and event.output_tokens > 0


async def test_a_failed_stream_ends_with_the_error_event_in_sequence(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    body = {"model": CLAUDE, "input": "a long enough answer [[fault:cut]]", "stream": True}
    headers = {"authorization": f"Bearer {tenant.secret}"}
    async with (
        aiohttp.ClientSession(gateway.url) as http,
        http.post("/v1/responses", json=body, headers=headers) as answer,
    ):
        events = stream_events(await answer.read())
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    failed, error = events[-2:]
    assert failed["type"] == "response.failed" and failed["response"]["status"] == "failed"
    # Flat, as the API reference documents it; nested, as the live API sends it.
    assert error["type"] == "error" and error["code"] == "upstream_unavailable"
    assert error["message"] == error["error"]["message"] == failed["response"]["error"]["message"]
    assert error["error"]["type"] == "upstream_error"


async def test_a_passed_through_stream_the_upstream_breaks_off_ends_with_an_error_event(
    client: openai.AsyncOpenAI, gateway: RunningGateway, tenant: Tenant
) -> None:
    # To an OpenAI channel the upstream's own events go through as they are; the gateway
    # ends the stream with a Responses `error` event, not a chat-completions error chunk.
    prompt = "a long enough answer please [[fault:cut]]"
    stream = await client.responses.create(model=GPT, input=prompt, stream=True)
    with pytest.raises(openai.APIError, match="broke off") as raised:
        async for _ in stream:
            pass
    assert raised.value.code == "upstream_unavailable"
    body = {"model": GPT, "input": prompt, "stream": True}
    headers = {"authorization": f"Bearer {tenant.secret}"}
    async with (
        aiohttp.ClientSession(gateway.url) as http,
        http.post("/v1/responses", json=body, headers=headers) as answer,
    ):
        events = stream_events(await answer.read())
    assert events[0]["type"] == "response.created"
    error = events[-1]
    assert error["type"] == "error" and error["code"] == "upstream_unavailable"
    assert error["error"] == {
        "type": "upstream_error",
        "code": "upstream_unavailable",
        "message": error["message"],
        "param": None,
    }


async def test_a_compaction_of_the_gateways_reaches_openai_as_its_summary(
    client: openai.AsyncOpenAI, fake_upstream: FakeUpstream
) -> None:
    # A Codex session compacted on another model, carried on with an OpenAI one.
    item = compaction_item("Ran the tests: 1 failed.")
    asked: Any = [
        {"role": "user", "content": "fix the test"},
        item,
        {"role": "user", "content": "go on"},
    ]
    answer = await client.responses.create(model=GPT, input=asked)
    assert answer.status == "completed"
    # Spelt out, not `asked`'s items: an SDK instrumentation another test left installed
    # may add fields to the very dicts it was given.
    assert fake_upstream.received[-1]["input"] == [
        {"role": "user", "content": "fix the test"},
        {"role": "user", "content": SUMMARY_INTRODUCTION + "Ran the tests: 1 failed."},
        {"role": "user", "content": "go on"},
    ]
