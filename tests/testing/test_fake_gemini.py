"""The fake upstream speaks the Gemini API well enough for the official `google-genai` SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from google import genai
from google.genai import errors
from google.genai import types as genai_types

from aisonar.testing.fake_embeddings import unit_vector
from aisonar.testing.fake_upstream import FakeUpstream, FakeUpstreamConfig
from aisonar.usage.tokens import count_text_tokens
from tests.testing.forecast import FORECAST, FORECAST_SCHEMA

MODEL = "gemini-2.5-flash"
KEY = "gemini-test-key"
GENERATE = f"/v1beta/models/{MODEL}:generateContent"
STREAM = f"/v1beta/models/{MODEL}:streamGenerateContent"
WEATHER = genai_types.FunctionDeclaration(
    name="get_weather",
    parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
)
TIME = genai_types.FunctionDeclaration(name="get_time")
NO_AUTOMATIC_CALLS = genai_types.AutomaticFunctionCallingConfig(disable=True)

Chunks = list[genai_types.GenerateContentResponse]


def tokens(text: str) -> int:
    return count_text_tokens(text, MODEL)


def sdk(fake: FakeUpstream, key: str = KEY, api_version: str | None = None) -> genai.Client:
    # One attempt: no tenacity retries, and no implicit retry after a dropped connection.
    options = genai_types.HttpOptions(
        base_url=fake.root_url,
        api_version=api_version,
        retry_options=genai_types.HttpRetryOptions(attempts=1),
    )
    return genai.Client(api_key=key, http_options=options)


def function_config(
    *declarations: genai_types.FunctionDeclaration,
    mode: genai_types.FunctionCallingConfigMode | None = None,
    allowed: list[str] | None = None,
) -> genai_types.GenerateContentConfig:
    calling = genai_types.FunctionCallingConfig(mode=mode, allowed_function_names=allowed)
    return genai_types.GenerateContentConfig(
        tools=[genai_types.Tool(function_declarations=list(declarations))],
        tool_config=genai_types.ToolConfig(function_calling_config=calling),
        automatic_function_calling=NO_AUTOMATIC_CALLS,
    )


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(FakeUpstreamConfig(api_key=KEY), port=0) as upstream:
        yield upstream


@pytest.fixture
async def client(fake: FakeUpstream) -> AsyncIterator[genai.client.AsyncClient]:
    fake.clear_faults()
    with sdk(fake) as sync_client:
        async with sync_client.aio as async_client:
            yield async_client


@pytest.fixture
async def raw(fake: FakeUpstream) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(fake.root_url) as session:
        yield session


async def generate(
    client: genai.client.AsyncClient,
    text: str,
    config: genai_types.GenerateContentConfig | None = None,
) -> genai_types.GenerateContentResponse:
    return await client.models.generate_content(model=MODEL, contents=text, config=config)


async def stream(
    client: genai.client.AsyncClient,
    text: str,
    config: genai_types.GenerateContentConfig | None = None,
) -> Chunks:
    chunks = await client.models.generate_content_stream(model=MODEL, contents=text, config=config)
    return [chunk async for chunk in chunks]


def parts(response: genai_types.GenerateContentResponse, index: int = 0) -> list[genai_types.Part]:
    assert response.candidates is not None
    content = response.candidates[index].content
    assert content is not None and content.parts is not None
    return content.parts


def finish(response: genai_types.GenerateContentResponse, index: int = 0) -> str | None:
    assert response.candidates is not None
    reason = response.candidates[index].finish_reason
    return None if reason is None else reason.value


def usage(response: genai_types.GenerateContentResponse) -> dict[str, Any]:
    assert response.usage_metadata is not None
    return response.usage_metadata.model_dump(mode="json", exclude_none=True)


def streamed_text(chunks: Chunks) -> str:
    return "".join(part.text or "" for chunk in chunks for part in parts(chunk))


# --- generateContent -------------------------------------------------------------------------


@pytest.mark.parametrize("api_version", ["v1", "v1beta"])
async def test_text_reply_echoes_the_prompt_with_usage(
    fake: FakeUpstream, api_version: str
) -> None:
    with sdk(fake, api_version=api_version) as sync_client:
        async with sync_client.aio as client:
            response = await generate(client, "hello MARKER-7 world")

    assert [part.text for part in parts(response)] == ["Echo: hello MARKER-7 world"]
    assert response.candidates is not None
    assert response.candidates[0].content is not None
    assert response.candidates[0].content.role == "model"
    assert response.candidates[0].index == 0
    assert finish(response) == "STOP"
    prompt = tokens("hello MARKER-7 world")
    answer = tokens("Echo: hello MARKER-7 world")
    assert usage(response) == {
        "prompt_token_count": prompt,
        "candidates_token_count": answer,
        "total_token_count": prompt + answer,
        "prompt_tokens_details": [{"modality": "TEXT", "token_count": prompt}],
    }
    assert response.model_version == MODEL
    assert response.response_id
    assert fake.received[-1] == {
        "contents": [{"parts": [{"text": "hello MARKER-7 world"}], "role": "user"}]
    }


async def test_count_tokens_matches_the_prompt_count(client: genai.client.AsyncClient) -> None:
    counted = await client.models.count_tokens(model=MODEL, contents="count these words")
    response = await generate(client, "count these words")

    assert counted.total_tokens == tokens("count these words")
    assert response.usage_metadata is not None
    assert counted.total_tokens == response.usage_metadata.prompt_token_count


async def test_thoughts_come_first_and_count_apart(client: genai.client.AsyncClient) -> None:
    thinking = genai_types.ThinkingConfig(include_thoughts=True)
    config = genai_types.GenerateContentConfig(thinking_config=thinking)
    response = await generate(client, "ponder this", config)

    thought, answer = parts(response)
    assert thought.thought is True
    assert thought.text == "Thinking about: ponder this"
    assert answer.thought is None
    assert answer.text == "Echo: ponder this"
    counts = usage(response)
    assert counts["thoughts_token_count"] == tokens("Thinking about: ponder this")
    assert counts["candidates_token_count"] == tokens("Echo: ponder this")
    assert counts["total_token_count"] == (
        counts["prompt_token_count"]
        + counts["candidates_token_count"]
        + counts["thoughts_token_count"]
    )


async def test_stop_sequence_cuts_the_reply_before_it(client: genai.client.AsyncClient) -> None:
    config = genai_types.GenerateContentConfig(stop_sequences=["STOP-HERE", "never"])
    response = await generate(client, "keep this STOP-HERE drop that", config)

    assert response.text == "Echo: keep this "
    assert finish(response) == "STOP"
    assert usage(response)["candidates_token_count"] == tokens("Echo: keep this ")


async def test_max_output_tokens_truncates(client: genai.client.AsyncClient) -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"
    config = genai_types.GenerateContentConfig(max_output_tokens=4)
    response = await generate(client, text, config)

    assert finish(response) == "MAX_TOKENS"
    assert response.text
    assert ("Echo: " + text).startswith(response.text)
    assert usage(response)["candidates_token_count"] == tokens(response.text) <= 4


async def test_candidate_count_answers_several_candidates(
    client: genai.client.AsyncClient,
) -> None:
    config = genai_types.GenerateContentConfig(candidate_count=2)
    response = await generate(client, "twice", config)

    assert response.candidates is not None
    assert [candidate.index for candidate in response.candidates] == [0, 1]
    assert [parts(response, index)[0].text for index in (0, 1)] == ["Echo: twice"] * 2
    assert usage(response)["candidates_token_count"] == 2 * tokens("Echo: twice")


async def test_json_mode_answers_a_json_object(client: genai.client.AsyncClient) -> None:
    config = genai_types.GenerateContentConfig(response_mime_type="application/json")
    response = await generate(client, "as json", config)

    assert json.loads(response.text or "") == {"echo": "as json"}


@pytest.mark.parametrize("field", ["response_json_schema", "response_schema"])
async def test_json_mode_follows_the_response_schema(
    client: genai.client.AsyncClient, field: str
) -> None:
    config = genai_types.GenerateContentConfig(
        response_mime_type="application/json", **{field: FORECAST_SCHEMA}
    )
    response = await generate(client, "in Oslo", config)

    assert json.loads(response.text or "") == FORECAST


# --- function calling ------------------------------------------------------------------------


async def test_function_call_of_the_first_declaration(client: genai.client.AsyncClient) -> None:
    response = await generate(client, "weather in Paris", function_config(WEATHER, TIME))

    [part] = parts(response)
    assert part.function_call is not None
    assert part.function_call.name == "get_weather"
    assert part.function_call.args == {"city": "weather in Paris"}
    assert part.function_call.id
    assert finish(response) == "STOP"
    answer = tokens('get_weather{"city":"weather in Paris"}')
    assert usage(response)["candidates_token_count"] == answer


async def test_allowed_function_names_and_mode_none(client: genai.client.AsyncClient) -> None:
    any_mode = genai_types.FunctionCallingConfigMode.ANY
    none_mode = genai_types.FunctionCallingConfigMode.NONE
    named = await generate(
        client, "what time", function_config(WEATHER, TIME, mode=any_mode, allowed=["get_time"])
    )
    off = await generate(client, "no calls", function_config(WEATHER, mode=none_mode))

    assert response_call_name(named) == "get_time"
    assert off.text == "Echo: no calls"


def response_call_name(response: genai_types.GenerateContentResponse) -> str | None:
    call = parts(response)[0].function_call
    return None if call is None else call.name


async def test_function_response_is_echoed_as_text(client: genai.client.AsyncClient) -> None:
    call = genai_types.Part.from_function_call(name="get_weather", args={"city": "Paris"})
    result = genai_types.Part.from_function_response(
        name="get_weather", response={"forecast": "sunny"}
    )
    contents = [
        genai_types.Content(role="user", parts=[genai_types.Part(text="weather in Paris")]),
        genai_types.Content(role="model", parts=[call]),
        genai_types.Content(role="user", parts=[result]),
    ]
    response = await client.models.generate_content(
        model=MODEL, contents=contents, config=function_config(WEATHER)
    )

    assert response.text == 'Echo: {"forecast":"sunny"}'


# --- streaming -------------------------------------------------------------------------------


async def test_stream_sends_pieces_with_running_usage(client: genai.client.AsyncClient) -> None:
    plain = await generate(client, "stream me please")
    chunks = await stream(client, "stream me please")

    assert len(chunks) > 3
    assert streamed_text(chunks) == "Echo: stream me please"
    assert len({chunk.response_id for chunk in chunks}) == 1
    assert [finish(chunk) for chunk in chunks] == [None] * (len(chunks) - 1) + ["STOP"]
    assert all(chunk.usage_metadata is not None for chunk in chunks)
    assert usage(chunks[-1]) == usage(plain)


async def test_streamed_thought_comes_whole_first(client: genai.client.AsyncClient) -> None:
    thinking = genai_types.ThinkingConfig(include_thoughts=True)
    chunks = await stream(
        client, "one two", genai_types.GenerateContentConfig(thinking_config=thinking)
    )

    [thought] = parts(chunks[0])
    assert thought.thought is True
    assert thought.text == "Thinking about: one two"
    assert streamed_text(chunks[1:]) == "Echo: one two"
    assert usage(chunks[-1])["thoughts_token_count"] == tokens("Thinking about: one two")


async def test_streamed_function_call_comes_whole(client: genai.client.AsyncClient) -> None:
    chunks = await stream(client, "weather in New York City", function_config(WEATHER))

    [chunk] = chunks
    [part] = parts(chunk)
    assert part.function_call is not None
    assert part.function_call.args == {"city": "weather in New York City"}
    assert finish(chunk) == "STOP"


async def test_stream_without_alt_sse_is_a_json_array(raw: aiohttp.ClientSession) -> None:
    body = {"contents": [{"parts": [{"text": "one two"}]}]}
    async with raw.post(STREAM, json=body, headers={"x-goog-api-key": KEY}) as response:
        assert response.status == 200
        chunks = json.loads(await response.text())

    texts = [chunk["candidates"][0]["content"]["parts"][0]["text"] for chunk in chunks]
    assert "".join(texts) == "Echo: one two"
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


# --- auth and validation ---------------------------------------------------------------------


async def test_wrong_key_is_400_api_key_invalid(fake: FakeUpstream) -> None:
    with sdk(fake, key="wrong") as sync_client:
        async with sync_client.aio as client:
            with pytest.raises(errors.ClientError) as caught:
                await generate(client, "hello")

    assert caught.value.code == 400
    assert caught.value.status == "INVALID_ARGUMENT"
    assert caught.value.message == "API key not valid. Please pass a valid API key."
    assert caught.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


async def test_key_in_the_query_and_missing_key(raw: aiohttp.ClientSession) -> None:
    body = {"contents": [{"parts": [{"text": "by query"}]}]}
    async with raw.post(GENERATE, params={"key": KEY}, json=body) as response:
        assert response.status == 200
        answer = await response.json()
    async with raw.post(GENERATE, json=body) as response:
        assert response.status == 403
        error = (await response.json())["error"]

    assert answer["candidates"][0]["content"]["parts"] == [{"text": "Echo: by query"}]
    assert error["status"] == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contents": []}, "* GenerateContentRequest.contents: contents is not specified\n"),
        (
            {"contents": [{"role": "user", "parts": []}]},
            "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n",
        ),
        (
            {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"topK": "many"}},
            "Invalid value at 'generation_config.top_k' (TYPE_INT32), \"many\"",
        ),
        (
            {"contents": [{"parts": [{}]}]},
            "* GenerateContentRequest.contents[0].parts[0].data: "
            "required oneof field 'data' must have one initialized field\n",
        ),
    ],
)
async def test_invalid_requests_are_400_invalid_argument(
    raw: aiohttp.ClientSession, body: dict[str, Any], message: str
) -> None:
    async with raw.post(GENERATE, params={"key": KEY}, json=body) as response:
        assert response.status == 400
        error = (await response.json())["error"]

    assert error == {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}


async def test_invalid_role_through_the_sdk(client: genai.client.AsyncClient) -> None:
    contents = [genai_types.Content(role="assistant", parts=[genai_types.Part(text="hi")])]
    with pytest.raises(errors.ClientError) as caught:
        await client.models.generate_content(model=MODEL, contents=contents)

    assert caught.value.code == 400
    assert caught.value.message == "Please use a valid role: user, model."


async def test_unknown_method_is_404(raw: aiohttp.ClientSession) -> None:
    async with raw.post(f"/v1beta/models/{MODEL}:nothing", params={"key": KEY}) as response:
        assert response.status == 404
        assert (await response.json())["error"]["status"] == "NOT_FOUND"


# --- faults and usage ------------------------------------------------------------------------


async def test_429_is_resource_exhausted(client: genai.client.AsyncClient) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await generate(client, "go [[fault:429]]")

    assert caught.value.code == 429
    assert caught.value.status == "RESOURCE_EXHAUSTED"


async def test_500_is_a_server_error(fake: FakeUpstream, client: genai.client.AsyncClient) -> None:
    fake.fail_next("500")
    with pytest.raises(errors.ServerError) as caught:
        await generate(client, "hello")

    assert caught.value.code == 500
    assert caught.value.status == "INTERNAL"


async def test_cut_stream_fails_mid_stream(client: genai.client.AsyncClient) -> None:
    chunks = await client.models.generate_content_stream(
        model=MODEL, contents="a b c d e f [[fault:cut]]"
    )
    received: Chunks = []
    with pytest.raises(aiohttp.ClientPayloadError):
        async for chunk in chunks:
            received.append(chunk)

    assert streamed_text(received) == "Echo: a "


async def test_cut_without_streaming_drops_the_connection(
    fake: FakeUpstream, client: genai.client.AsyncClient
) -> None:
    fake.fail_next("cut")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await generate(client, "hello")


async def test_no_usage_omits_usage_metadata(client: genai.client.AsyncClient) -> None:
    plain = await generate(client, "quiet [[fault:no_usage]]")
    chunks = await stream(client, "quiet [[fault:no_usage]]")

    assert plain.usage_metadata is None
    assert all(chunk.usage_metadata is None for chunk in chunks)


async def test_queued_usage_is_reported_verbatim(
    fake: FakeUpstream, client: genai.client.AsyncClient
) -> None:
    block = {"promptTokenCount": 11, "candidatesTokenCount": 22, "totalTokenCount": 33}
    expected = {"prompt_token_count": 11, "candidates_token_count": 22, "total_token_count": 33}
    fake.report_usage_next(block)
    plain = await generate(client, "metered")
    fake.report_usage_next(block)
    chunks = await stream(client, "metered stream")

    assert usage(plain) == expected
    assert usage(chunks[-1]) == expected
    assert all(chunk.usage_metadata is None for chunk in chunks[:-1])


# --- embeddings and the model list -----------------------------------------------------------

EMBEDDING = "gemini-embedding-001"


async def test_embeddings_through_the_sdk_report_usage(client: genai.client.AsyncClient) -> None:
    config = genai_types.EmbedContentConfig(output_dimensionality=5, task_type="RETRIEVAL_QUERY")
    reply = await client.models.embed_content(
        model=EMBEDDING, contents=["first text", "second text"], config=config
    )

    assert [e.values for e in reply.embeddings or []] == [
        pytest.approx(unit_vector(text, 3072)[:5]) for text in ("first text", "second text")
    ]
    assert reply.usage_metadata is not None
    both = count_text_tokens("first text", EMBEDDING) + count_text_tokens("second text", EMBEDDING)
    assert reply.usage_metadata.prompt_token_count == both


async def test_embed_content_answers_one_embedding(
    fake: FakeUpstream, raw: aiohttp.ClientSession
) -> None:
    body = {"content": {"parts": [{"text": "alone"}]}}
    path = "/v1/models/text-embedding-004:embedContent"
    async with raw.post(path, json=body, params={"key": KEY}) as response:
        assert response.status == 200
        reply = await response.json()

    assert reply["embedding"]["values"] == pytest.approx(unit_vector("alone", 768))
    tokens = count_text_tokens("alone", "text-embedding-004")
    assert reply["usageMetadata"] == {"promptTokenCount": tokens, "totalTokenCount": tokens}
    fake.fail_next("no_usage")
    async with raw.post(path, json=body, params={"key": KEY}) as response:
        assert "usageMetadata" not in await response.json()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            {"requests": [{"model": "models/other", "content": {"parts": [{"text": "x"}]}}]},
            "differs from the URL's",
        ),
        ({"requests": [{"content": {"parts": [{"text": "x"}]}}] * 101}, "at most 100"),
        ({"requests": []}, "requests is not specified"),
        (
            {"requests": [{"content": {"parts": [{"inlineData": {"data": "AA"}}]}}]},
            "only text",
        ),
    ],
)
async def test_embedding_requests_are_checked(
    raw: aiohttp.ClientSession, body: dict[str, Any], problem: str
) -> None:
    path = f"/v1beta/models/{EMBEDDING}:batchEmbedContents"
    async with raw.post(path, json=body, params={"key": KEY}) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["status"] == "INVALID_ARGUMENT" and problem in error["message"]


async def test_model_list_tells_embedding_models_apart(raw: aiohttp.ClientSession) -> None:
    async with raw.get("/v1beta/models", params={"key": KEY}) as response:
        models = {model["name"]: model for model in (await response.json())["models"]}

    embedding = models["models/text-embedding-3-small"]["supportedGenerationMethods"]
    assert embedding == ["embedContent", "batchEmbedContents"]
    assert "generateContent" in models["models/gpt-4o-mini"]["supportedGenerationMethods"]
