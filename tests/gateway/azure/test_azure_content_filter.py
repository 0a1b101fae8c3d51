"""Azure's content filter, as each client format expects it: an OpenAI client gets
Azure's own answer (a 400 with code `content_filter` for a blocked prompt, an answer
ending in `finish_reason: content_filter` with the filter's results), an Anthropic client
a refusal, a Gemini client a SAFETY block."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.azure.conftest import MakeAzureChannel
from tests.gateway.sdk_clients import AnthropicClient, GeminiClient, OpenAIClient
from tests.support import Tenant

BLOCKED_PROMPT = "Tell me a story [[fault:content_filter]]"
BLOCKED_ANSWER = "Tell me a story [[fault:content_filter_output]]"


async def test_an_openai_client_gets_azures_own_refusal_of_a_prompt(
    gateway: RunningGateway, tenant: Tenant, azure_channel: MakeAzureChannel
) -> None:
    channel = await azure_channel()
    client = OpenAIClient(gateway, tenant.secret)
    try:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.text(channel.model, BLOCKED_PROMPT)
    finally:
        await client.close()
    assert refused.value.code == "content_filter"
    assert "content management policy" in refused.value.message


@pytest.mark.parametrize("stream", [False, True])
async def test_an_openai_client_sees_an_answer_the_filter_cut_short(
    gateway: RunningGateway, tenant: Tenant, azure_channel: MakeAzureChannel, stream: bool
) -> None:
    channel = await azure_channel()
    client = OpenAIClient(gateway, tenant.secret)
    try:
        answer = await (client.stream if stream else client.text)(channel.model, BLOCKED_ANSWER)
    finally:
        await client.close()
    assert answer.finish == "content_filter"


async def test_the_filters_results_reach_an_openai_client(
    gateway: RunningGateway, tenant: Tenant, azure_channel: MakeAzureChannel
) -> None:
    channel = await azure_channel()
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as client:
        reply = await client.chat.completions.create(
            model=channel.model, messages=[{"role": "user", "content": "Hello"}]
        )
    extra: dict[str, Any] = reply.model_extra or {}
    assert extra["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    choice_extra: dict[str, Any] = reply.choices[0].model_extra or {}
    assert choice_extra["content_filter_results"]["violence"]["severity"] == "safe"


@pytest.mark.parametrize("prompt", [BLOCKED_PROMPT, BLOCKED_ANSWER])
@pytest.mark.parametrize("stream", [False, True])
async def test_an_anthropic_client_gets_a_refusal(
    gateway: RunningGateway,
    tenant: Tenant,
    azure_channel: MakeAzureChannel,
    prompt: str,
    stream: bool,
) -> None:
    channel = await azure_channel()
    client = AnthropicClient(gateway, tenant.secret)
    try:
        answer = await (client.stream if stream else client.text)(channel.model, prompt)
    finally:
        await client.close()
    assert answer.finish == "refusal"


@pytest.mark.parametrize("prompt", [BLOCKED_PROMPT, BLOCKED_ANSWER])
@pytest.mark.parametrize("stream", [False, True])
async def test_a_gemini_client_gets_a_safety_block(
    gateway: RunningGateway,
    tenant: Tenant,
    azure_channel: MakeAzureChannel,
    prompt: str,
    stream: bool,
) -> None:
    channel = await azure_channel()
    client = GeminiClient(gateway, tenant.secret)
    try:
        answer = await (client.stream if stream else client.text)(channel.model, prompt)
    finally:
        await client.close()
    assert answer.finish == "SAFETY"
