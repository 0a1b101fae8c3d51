"""The fake upstream speaks Google Vertex AI well enough for the official SDKs' Vertex clients
(`AnthropicVertex`, and `google-genai` in Vertex mode, which mints its own token from the
service account at the fake's Google OAuth endpoint), and refuses what Google would: a grant
signed by another key, an expired token, and Claude bodies Vertex does not take."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from anthropic import AsyncAnthropicVertex
from google import genai
from google.genai import types as genai_types
from google.oauth2 import service_account

from aisonar.gateway.errors import UpstreamRejected
from aisonar.gateway.wire.vertex.tokens import SCOPE, GoogleTokens
from aisonar.testing.fake_google_oauth import new_key_file
from aisonar.testing.fake_upstream import FakeUpstream

PROJECT, LOCATION = "fake-vertex-project", "us-east5"
CLAUDE, GEMINI = "claude-sonnet-4-5@20250929", "gemini-2.5-flash"
MODELS = f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers"


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as upstream:
        yield upstream


async def token_of(fake: FakeUpstream) -> str:
    return await GoogleTokens(fake.google_service_account(PROJECT)).token()


async def test_anthropics_vertex_client_is_answered(fake: FakeUpstream) -> None:
    client = AsyncAnthropicVertex(
        project_id=PROJECT,
        region=LOCATION,
        base_url=fake.root_url + "/v1",
        access_token=await token_of(fake),
        max_retries=0,
    )
    message = await client.messages.create(
        model=CLAUDE, max_tokens=32, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.content[0].type == "text" and message.content[0].text == "Echo: Hi"
    assert message.model == CLAUDE and message.usage.input_tokens > 0
    stream = await client.messages.create(
        model=CLAUDE, max_tokens=32, messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    events = [event.type async for event in stream]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    counted = await client.messages.count_tokens(
        model=CLAUDE, messages=[{"role": "user", "content": "Hi"}]
    )
    assert counted.input_tokens == message.usage.input_tokens
    assert "model" not in fake.received[0] and "anthropic_version" in fake.received[0]


async def test_genai_in_vertex_mode_mints_its_token_here_and_is_answered(
    fake: FakeUpstream,
) -> None:
    info = fake.google_service_account(PROJECT)
    credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        info, scopes=[SCOPE]
    )
    client = genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=credentials,
        http_options=genai_types.HttpOptions(base_url=fake.root_url + "/"),
    )
    answer = await client.aio.models.generate_content(model=GEMINI, contents="Hello")
    assert answer.text == "Echo: Hello"
    assert answer.usage_metadata is not None and answer.usage_metadata.prompt_token_count
    assert answer.usage_metadata.traffic_type == genai_types.TrafficType.ON_DEMAND
    stream = await client.aio.models.generate_content_stream(model=GEMINI, contents="Hello there")
    assert "".join([chunk.text or "" async for chunk in stream]) == "Echo: Hello there"
    counted = await client.aio.models.count_tokens(model=GEMINI, contents="Hello")
    assert counted.total_tokens and counted.total_tokens > 0
    assert fake.google_tokens_minted == 1


async def test_a_grant_signed_by_another_key_is_refused(fake: FakeUpstream) -> None:
    trusted = fake.google_service_account(PROJECT)
    impostor = {**new_key_file(trusted["token_uri"]), "client_email": trusted["client_email"]}
    with pytest.raises(UpstreamRejected):
        await GoogleTokens(impostor).token()
    assert fake.google_tokens_minted == 0


async def post(fake: FakeUpstream, path: str, token: str, body: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.root_url + path, json=body, headers=headers) as answer,
    ):
        return answer.status, json.loads(await answer.read())


async def test_expired_tokens_and_bodies_vertex_does_not_take_are_refused(
    fake: FakeUpstream,
) -> None:
    token = await token_of(fake)
    raw_predict = f"{MODELS}/anthropic/models/{CLAUDE}:rawPredict"
    messages = {"max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}
    status, body = await post(fake, raw_predict, token, {**messages, "model": CLAUDE})
    assert status == 400 and body["error"]["message"] == "model: Extra inputs are not permitted"
    status, body = await post(fake, raw_predict, token, messages)
    assert status == 400 and body["error"]["message"] == "anthropic_version: Field required"
    versioned = {**messages, "anthropic_version": "vertex-2023-10-16"}
    status, body = await post(fake, raw_predict, token, {**versioned, "stream": True})
    assert status == 400 and body["type"] == "error"
    assert (await post(fake, raw_predict, token, versioned))[0] == 200

    fake.expire_google_tokens()
    status, body = await post(fake, raw_predict, token, versioned)
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    assert body["error"]["details"][0]["reason"] == "ACCESS_TOKEN_EXPIRED"
    status, body = await post(fake, f"{MODELS}/google/models/{GEMINI}:generateContent", "", {})
    assert status == 401 and body["error"]["details"][0]["reason"] == "CREDENTIALS_MISSING"
