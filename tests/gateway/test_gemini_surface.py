"""What Gemini clients call besides generateContent: the model list and a model, token
counts, embeddings (billed like /v1/embeddings), the JSON-array stream, and Gemini-shaped
errors on every Gemini path, through the official `google-genai` SDK and raw HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from aisonar.billing.money import parse_amount
from aisonar.testing.fake_embeddings import unit_vector
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.tokens import count_text_tokens
from tests.support import (
    Backend,
    Tenant,
    assert_ledger_invariant,
    make_tenant,
    recorded_events,
    settled_balance,
    writer_drained,
)

GEMINI, GPT, CLAUDE = "gemini-2.5-flash", "gpt-4o-mini", "claude-haiku-4-5"
GEMINI_EMBEDDING, OPENAI_EMBEDDING = "gemini-embedding-001", "text-embedding-3-small"


@pytest.fixture
async def http(gateway: RunningGateway) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(gateway.url) as session:
        yield session


@pytest.fixture
async def client(
    gateway: RunningGateway, tenant: Tenant
) -> AsyncIterator[genai.client.AsyncClient]:
    async with sdk(gateway, tenant.secret) as async_client:
        yield async_client


def sdk(
    gateway: RunningGateway, secret: str, api_version: str = "v1beta"
) -> genai.client.AsyncClient:
    options = genai_types.HttpOptions(
        base_url=gateway.url,
        api_version=api_version,
        retry_options=genai_types.HttpRetryOptions(attempts=1),
    )
    return genai.Client(api_key=secret, http_options=options).aio


def gemini_error(body: Any, code: int, status: str) -> str:
    """The message of an error in Gemini's shape, after checking the shape."""
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status"}
    assert (body["error"]["code"], body["error"]["status"]) == (code, status)
    message: str = body["error"]["message"]
    return message


# --- models.list and models.get --------------------------------------------------------------


@pytest.mark.parametrize("api_version", ["v1beta", "v1"])
async def test_the_sdk_lists_the_models_a_key_may_use(
    gateway: RunningGateway, backend: Backend, api_version: str
) -> None:
    tenant = await make_tenant(
        backend.engine, models=[GEMINI, "gemini", GPT, GEMINI_EMBEDDING, OPENAI_EMBEDDING]
    )
    async with sdk(gateway, tenant.secret, api_version) as client:
        listed = [model async for model in await client.models.list()]
        paged = await client.models.list(config={"page_size": 2})
        pages = [[model.name for model in paged.page]]
        while True:
            try:
                pages.append([model.name for model in await paged.next_page()])
            except IndexError:  # the SDK's way of saying no page is left
                break
    names = [model.name for model in listed]
    expected = [GEMINI, "gemini", GEMINI_EMBEDDING, GPT, OPENAI_EMBEDDING]
    assert names == [f"models/{name}" for name in sorted(expected)]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [name for page in pages for name in page] == names
    actions = {model.name: model.supported_actions for model in listed}
    assert actions[f"models/{GEMINI}"] == [
        "generateContent",
        "streamGenerateContent",
        "countTokens",
    ]
    assert actions[f"models/{OPENAI_EMBEDDING}"] == ["embedContent", "batchEmbedContents"]
    flash = next(model for model in listed if model.name == f"models/{GEMINI}")
    assert flash.display_name == GEMINI and flash.output_token_limit == 65536


async def test_the_sdk_gets_one_model(client: genai.client.AsyncClient) -> None:
    model = await client.models.get(model=GEMINI_EMBEDDING)
    assert model.name == f"models/{GEMINI_EMBEDDING}"
    assert model.supported_actions == ["embedContent", "batchEmbedContents"]
    assert (await client.models.get(model=f"models/{GPT}")).name == f"models/{GPT}"
    with pytest.raises(genai_errors.ClientError) as missing:
        await client.models.get(model="no-such-model")
    assert (missing.value.code, missing.value.status) == (404, "NOT_FOUND")


async def test_v1_models_answers_in_the_shape_of_the_credential(
    http: aiohttp.ClientSession, tenant: Tenant
) -> None:
    async with http.get("/v1/models", headers={"Authorization": f"Bearer {tenant.secret}"}) as r:
        assert r.status == 200
        openai_list = await r.json()
    assert openai_list["object"] == "list"
    assert GPT in [model["id"] for model in openai_list["data"]]
    for request in (
        {"headers": {"x-goog-api-key": tenant.secret}},
        {"params": {"key": tenant.secret}},
    ):
        async with http.get("/v1/models", **request) as r:  # type: ignore[arg-type]
            assert r.status == 200
            gemini_list = await r.json()
        assert f"models/{GPT}" in [model["name"] for model in gemini_list["models"]]
    async with http.get(
        f"/v1/models/{GPT}", headers={"Authorization": f"Bearer {tenant.secret}"}
    ) as r:
        assert (await r.json())["object"] == "model"
    async with http.get(f"/v1/models/{GPT}", params={"key": tenant.secret}) as r:
        assert (await r.json())["name"] == f"models/{GPT}"
    # /v1beta is Gemini's whatever the credential: a Bearer key is no Gemini key.
    async with http.get(
        "/v1beta/models", headers={"Authorization": f"Bearer {tenant.secret}"}
    ) as r:
        assert r.status == 401
        gemini_error(await r.json(), 401, "UNAUTHENTICATED")
    async with http.get("/v1beta/models", params={"key": tenant.secret, "pageToken": "%%"}) as r:
        assert "pageToken" in gemini_error(await r.json(), 400, "INVALID_ARGUMENT")


# --- countTokens -----------------------------------------------------------------------------


async def test_count_tokens_is_free_on_every_channel(
    client: genai.client.AsyncClient, backend: Backend, tenant: Tenant, gateway: RunningGateway
) -> None:
    prompt = "how many tokens are in this sentence"
    # Forwarded to the Gemini channel: the fake counts as its generateContent does.
    forwarded = await client.models.count_tokens(model=GEMINI, contents=prompt)
    reply = await client.models.generate_content(model=GEMINI, contents=prompt)
    assert reply.usage_metadata is not None
    assert forwarded.total_tokens == reply.usage_metadata.prompt_token_count
    # Counted offline for the others.
    for model in (GPT, CLAUDE):
        counted = await client.models.count_tokens(model=model, contents=prompt)
        assert counted.total_tokens is not None and 0 < counted.total_tokens < 30
    await writer_drained(gateway)
    [event] = await recorded_events(backend, tenant, 1)  # the generateContent alone
    assert event.endpoint.endswith(":generateContent")
    await settled_balance(backend.engine, tenant.org_id, parse_amount("100") - event.cost)


async def test_count_tokens_of_a_whole_generate_content_request(
    http: aiohttp.ClientSession, tenant: Tenant
) -> None:
    inner = {"model": "models/gemini", "contents": [{"parts": [{"text": "count me"}]}]}
    for model in ("gemini", GPT):
        path = f"/v1beta/models/{model}:countTokens"
        async with http.post(
            path, json={"generateContentRequest": inner}, params={"key": tenant.secret}
        ) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["totalTokens"] > 0
    both = {"contents": inner["contents"], "generateContentRequest": inner}
    async with http.post(
        f"/v1beta/models/{GPT}:countTokens", json=both, params={"key": tenant.secret}
    ) as r:
        assert "exactly one" in gemini_error(await r.json(), 400, "INVALID_ARGUMENT")


# --- embedContent and batchEmbedContents -----------------------------------------------------


async def test_embeddings_on_a_gemini_channel_are_billed(
    client: genai.client.AsyncClient, backend: Backend, tenant: Tenant
) -> None:
    one = await client.models.embed_content(model=GEMINI_EMBEDDING, contents="a cat on a mat")
    [vector] = one.embeddings or []
    assert vector.values == pytest.approx(unit_vector("a cat on a mat", 3072))
    config = genai_types.EmbedContentConfig(output_dimensionality=8, task_type="RETRIEVAL_DOCUMENT")
    two = await client.models.embed_content(
        model=GEMINI_EMBEDDING, contents=["first text", "second text"], config=config
    )
    assert [len(e.values or []) for e in two.embeddings or []] == [8, 8]
    events = await recorded_events(backend, tenant, 2)
    assert [e.input_tokens for e in events] == [
        count_text_tokens("a cat on a mat", GEMINI_EMBEDDING),
        count_text_tokens("first text", GEMINI_EMBEDDING)
        + count_text_tokens("second text", GEMINI_EMBEDDING),
    ]
    assert all(e.status_code == 200 and not e.tokens_estimated and e.cost > 0 for e in events)
    assert {(e.requested_model, e.upstream_model) for e in events} == {(GEMINI_EMBEDDING,) * 2}
    assert events[1].endpoint == f"/v1beta/models/{GEMINI_EMBEDDING}:batchEmbedContents"
    await settled_balance(
        backend.engine, tenant.org_id, parse_amount("100") - sum(e.cost for e in events)
    )
    await assert_ledger_invariant(backend.engine, tenant.org_id)


async def test_embeddings_translated_for_an_openai_channel(
    client: genai.client.AsyncClient, http: aiohttp.ClientSession, backend: Backend, tenant: Tenant
) -> None:
    batch = await client.models.embed_content(
        model=OPENAI_EMBEDDING, contents=["one", "two", "three"]
    )
    assert [e.values for e in batch.embeddings or []] == [
        pytest.approx(unit_vector(text, 1536)) for text in ("one", "two", "three")
    ]
    body = {"content": {"parts": [{"text": "alone"}]}, "outputDimensionality": 4}
    path = f"/v1/models/{OPENAI_EMBEDDING}:embedContent"
    async with http.post(path, json=body, headers={"x-goog-api-key": tenant.secret}) as r:
        assert r.status == 200, await r.text()
        single = await r.json()
    assert single["embedding"]["values"] == pytest.approx(unit_vector("alone", 4))
    tokens = count_text_tokens("alone", OPENAI_EMBEDDING)
    assert single["usageMetadata"] == {"promptTokenCount": tokens, "totalTokenCount": tokens}
    events = await recorded_events(backend, tenant, 2)
    assert [e.input_tokens for e in events] == [
        sum(count_text_tokens(text, OPENAI_EMBEDDING) for text in ("one", "two", "three")),
        tokens,
    ]
    assert all(e.status_code == 200 and not e.tokens_estimated for e in events)
    await settled_balance(
        backend.engine, tenant.org_id, parse_amount("100") - sum(e.cost for e in events)
    )
    await assert_ledger_invariant(backend.engine, tenant.org_id)


@pytest.mark.parametrize("model", [GEMINI_EMBEDDING, OPENAI_EMBEDDING])
async def test_an_embedding_without_reported_usage_is_estimated(
    http: aiohttp.ClientSession, backend: Backend, tenant: Tenant, model: str
) -> None:
    text = "x [[fault:no_usage]]"
    body = {"requests": [{"model": f"models/{model}", "content": {"parts": [{"text": text}]}}]}
    path = f"/v1beta/models/{model}:batchEmbedContents"
    async with http.post(path, json=body, params={"key": tenant.secret}) as r:
        assert r.status == 200, await r.text()
        reply = await r.json()
    tokens = count_text_tokens(text, model)
    # Passed through, the answer is Gemini's own; translated, it tells the estimate.
    if model == GEMINI_EMBEDDING:
        assert "usageMetadata" not in reply
    else:
        assert reply["usageMetadata"] == {"promptTokenCount": tokens, "totalTokenCount": tokens}
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.tokens_estimated, event.input_tokens) == (True, tokens)


@pytest.mark.parametrize(
    ("model", "method", "body", "message"),
    [
        (
            OPENAI_EMBEDDING,
            "embedContent",
            {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}},
            "Only text",
        ),
        (CLAUDE, "embedContent", {"content": {"parts": [{"text": "hi"}]}}, "no embeddings"),
        (GEMINI_EMBEDDING, "batchEmbedContents", {"requests": []}, "at least one"),
        (GEMINI_EMBEDDING, "embedContent", {"content": {"parts": []}}, "must not be empty"),
        (GEMINI_EMBEDDING, "embedContent", {"contents": "wrong field"}, "content"),
    ],
)
async def test_embeddings_refused_clearly_and_free(
    http: aiohttp.ClientSession,
    backend: Backend,
    tenant: Tenant,
    model: str,
    method: str,
    body: dict[str, Any],
    message: str,
) -> None:
    path = f"/v1beta/models/{model}:{method}"
    async with http.post(path, json=body, params={"key": tenant.secret}) as r:
        assert message in gemini_error(await r.json(), 400, "INVALID_ARGUMENT")
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.status_code, event.cost) == (400, 0)
    assert await assert_ledger_invariant(backend.engine, tenant.org_id) == parse_amount("100")


# --- streams ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [GEMINI, GPT])
async def test_the_sdk_streams(client: genai.client.AsyncClient, model: str) -> None:
    chunks = [
        chunk
        async for chunk in await client.models.generate_content_stream(
            model=model, contents="stream these words"
        )
    ]
    assert "".join(chunk.text or "" for chunk in chunks) == "Echo: stream these words"
    assert chunks[-1].usage_metadata is not None


@pytest.mark.parametrize("model", [GEMINI, GPT, CLAUDE])
async def test_a_stream_without_sse_is_a_json_array(
    http: aiohttp.ClientSession, backend: Backend, tenant: Tenant, model: str
) -> None:
    body = {"contents": [{"parts": [{"text": "one two three"}]}]}
    path = f"/v1/models/{model}:streamGenerateContent"
    async with http.post(path, json=body, headers={"x-goog-api-key": tenant.secret}) as r:
        assert r.status == 200
        assert r.headers["content-type"] == "application/json"
        raw = await r.read()
    assert raw.startswith(b"[{") and raw.endswith(b"}\n]") and b"\n,{" in raw
    chunks = json.loads(raw)
    texts = [
        part.get("text", "")
        for c in chunks
        for cand in c.get("candidates", [])
        for part in cand["content"].get("parts", [])
    ]
    assert "".join(texts) == "Echo: one two three"
    usage = next(c["usageMetadata"] for c in reversed(chunks) if "usageMetadata" in c)
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.stream, event.status_code, event.output_tokens) == (
        True,
        200,
        usage["candidatesTokenCount"],
    )


async def test_a_json_array_stream_cut_ends_with_the_error(
    http: aiohttp.ClientSession, tenant: Tenant
) -> None:
    body = {"contents": [{"parts": [{"text": "a b c d e f [[fault:cut]]"}]}]}
    path = f"/v1beta/models/{GEMINI}:streamGenerateContent"
    async with http.post(path, json=body, params={"key": tenant.secret}) as r:
        chunks = json.loads(await r.read())
    assert "candidates" in chunks[0]
    gemini_error(chunks[-1], 502, "INTERNAL")


# --- errors on Gemini paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("POST", f"/v1beta/models/{GEMINI}:noSuchMethod", 404),
        ("POST", f"/v1/models/{GEMINI}:noSuchMethod", 404),
        ("GET", f"/v1/models/{GEMINI}:generateContent", 405),
        ("GET", f"/v1beta/models/{GEMINI}:countTokens", 405),
        ("GET", f"/v1/models/{GEMINI_EMBEDDING}:batchEmbedContents", 405),
        ("POST", f"/v1/models/{GPT}", 405),
        ("POST", "/v1/models", 405),
        ("DELETE", "/v1beta/models", 405),
        ("GET", "/v1beta/tunedModels", 404),
    ],
)
async def test_gemini_paths_answer_errors_in_gemini_shape(
    http: aiohttp.ClientSession, tenant: Tenant, method: str, path: str, code: int
) -> None:
    statuses = {404: "NOT_FOUND", 405: "UNIMPLEMENTED"}
    async with http.request(method, path, params={"key": tenant.secret}) as r:
        assert r.status == code
        gemini_error(await r.json(), code, statuses[code])


async def test_openai_paths_keep_openai_errors(http: aiohttp.ClientSession, tenant: Tenant) -> None:
    bearer = {"Authorization": f"Bearer {tenant.secret}"}
    # A fine-tuned model's name has colons, and is still OpenAI's.
    async with http.get("/v1/models/ft:gpt-4o-mini:acme::abc123", headers=bearer) as r:
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "model_not_found"
    async with http.post("/v1/models", headers=bearer) as r:
        assert r.status == 405
        assert (await r.json())["error"]["type"] == "invalid_request_error"
    async with http.get("/v1/models", params={"key": "sk-sonar-wrong"}) as r:
        gemini_error(await r.json(), 401, "UNAUTHENTICATED")


# --- multimodal function responses ---------------------------------------------------------

SCREEN_PNG = bytes.fromhex("89504e470d0a1a0a")


@pytest.mark.parametrize("model", [CLAUDE, GPT])
async def test_a_function_responses_images_reach_another_provider(
    client: genai.client.AsyncClient, fake_upstream: FakeUpstream, model: str
) -> None:
    screen = genai_types.FunctionResponsePart(
        inline_data=genai_types.FunctionResponseBlob(
            mime_type="image/png", data=SCREEN_PNG, display_name="screen.png"
        )
    )
    contents = [
        genai_types.Content(role="user", parts=[genai_types.Part(text="What is on screen?")]),
        genai_types.Content(
            role="model",
            parts=[
                genai_types.Part(
                    function_call=genai_types.FunctionCall(id="s1", name="screenshot", args={})
                )
            ],
        ),
        genai_types.Content(
            role="user",
            parts=[
                genai_types.Part(
                    function_response=genai_types.FunctionResponse(
                        id="s1",
                        name="screenshot",
                        response={"image": {"$ref": "screen.png"}},
                        parts=[screen],
                    )
                )
            ],
        ),
    ]
    answer = await client.models.generate_content(model=model, contents=contents)
    assert answer.text
    sent = fake_upstream.received[-1]["messages"]
    data = base64.b64encode(SCREEN_PNG).decode()
    if model == CLAUDE:
        [result] = sent[2]["content"]
        assert result["type"] == "tool_result" and result["tool_use_id"] == "s1"
        assert result["content"][1:] == [
            {"type": "text", "text": "screen.png"},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": data},
            },
        ]
    else:
        assert sent[2]["role"] == "tool" and sent[2]["tool_call_id"] == "s1"
        url = f"data:image/png;base64,{data}"
        assert sent[3] == {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": url}}],
        }
