"""LiteLLM as a client: its `openai/`, `anthropic/` and `gemini/` providers pointed at the
gateway, each calling every provider's model in that wire format."""

from __future__ import annotations

import json
from typing import Any

import litellm
import pytest

from aisonar.testing.gateway_server import RunningGateway
from tests.compat.cells import (
    compat,
)
from tests.compat.support import (
    ECHO,
    ECHO_TOOL,
    PROMPT,
    TOOL_ARGUMENTS,
    Echo,
    assert_echoed,
    assert_fake_embedding,
    openai_base,
)
from tests.support import Tenant

OPENAI = "litellm openai/"
ANTHROPIC = "litellm anthropic/"
GEMINI = "litellm gemini/"
CLIENTS = (OPENAI, ANTHROPIC, GEMINI)
MESSAGES = [{"role": "user", "content": PROMPT}]
# LiteLLM 1.110.2 builds a pydantic schema of a TypedDict with ReadOnly items.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Items? .* on TypedDict class .* (is|are) using the `ReadOnly` qualifier:UserWarning"
)


def arguments(client: str, gateway: RunningGateway, tenant: Tenant, model: str) -> dict[str, Any]:
    prefix, base = {
        OPENAI: ("openai/", openai_base(gateway)),
        ANTHROPIC: ("anthropic/", gateway.url),
        GEMINI: ("gemini/", gateway.url + "/v1beta"),
    }[client]
    return {"model": prefix + model, "api_base": base, "api_key": tenant.secret}


@compat("text", *CLIENTS)
async def test_text(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    answer = await litellm.acompletion(
        messages=MESSAGES, **arguments(client, gateway, tenant, model)
    )
    assert answer.choices[0].message.content == ECHO


@compat("stream", *CLIENTS)
async def test_stream(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    stream = await litellm.acompletion(
        messages=MESSAGES, stream=True, **arguments(client, gateway, tenant, model)
    )
    pieces = [chunk.choices[0].delta.content or "" async for chunk in stream]
    assert len(pieces) > 1
    assert "".join(pieces) == ECHO


@compat("tools", *CLIENTS)
async def test_tools(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    answer = await litellm.acompletion(
        messages=MESSAGES, tools=[ECHO_TOOL], **arguments(client, gateway, tenant, model)
    )
    [call] = answer.choices[0].message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("echo", TOOL_ARGUMENTS)


@compat("tools-stream", *CLIENTS)
async def test_tools_stream(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    stream = await litellm.acompletion(
        messages=MESSAGES,
        tools=[ECHO_TOOL],
        stream=True,
        **arguments(client, gateway, tenant, model),
    )
    names, pieces = [], []
    async for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or []:
            names.append(call.function.name)
            pieces.append(call.function.arguments or "")
    assert [name for name in names if name] == ["echo"]
    assert json.loads("".join(pieces)) == TOOL_ARGUMENTS


@compat(
    "structured",
    *CLIENTS,
)
async def test_structured(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    answer = await litellm.acompletion(
        messages=MESSAGES, response_format=Echo, **arguments(client, gateway, tenant, model)
    )
    assert_echoed(Echo.model_validate_json(answer.choices[0].message.content))


@compat(
    "embeddings",
    OPENAI,
    GEMINI,
    providers=("openai", "gemini"),
)
async def test_embeddings(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    answer = await litellm.aembedding(input=[PROMPT], **arguments(client, gateway, tenant, model))
    assert_fake_embedding(answer.data[0]["embedding"], PROMPT, model)
