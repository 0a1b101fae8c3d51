"""Simon Willison's `llm`, its OpenAI chat models configured with the gateway as their
`api_base` (as extra-openai-models.yaml does), on every provider's model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from llm import ToolCall
from llm.default_plugins.openai_models import AsyncChat, OpenAIEmbeddingModel

from aisonar.testing.gateway_server import RunningGateway
from tests.compat.cells import compat
from tests.compat.support import (
    ECHO,
    PROMPT,
    TOOL_ARGUMENTS,
    Echo,
    assert_echoed,
    assert_fake_embedding,
    echo,
    openai_base,
)
from tests.support import Tenant

CLIENT = "llm"
TOOL_RESULT = echo(PROMPT)


@pytest.fixture(autouse=True)
def llm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_USER_PATH", str(tmp_path))


def chat(gateway: RunningGateway, model: str) -> AsyncChat:
    return AsyncChat(  # type: ignore[no-untyped-call]
        f"aisonar-{model}",
        model_name=model,
        api_base=openai_base(gateway),
        supports_tools=True,
        supports_schema=True,
    )


@compat("text", CLIENT)
async def test_text(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    response = chat(gateway, model).prompt(PROMPT, stream=False, key=tenant.secret)
    assert await response.text() == ECHO


@compat("stream", CLIENT)
async def test_stream(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    pieces = [piece async for piece in chat(gateway, model).prompt(PROMPT, key=tenant.secret)]
    assert len(pieces) > 1
    assert "".join(pieces) == ECHO


async def run_chain(
    gateway: RunningGateway, tenant: Tenant, model: str, *, stream: bool
) -> tuple[list[ToolCall], list[str]]:
    chain = chat(gateway, model).chain(PROMPT, tools=[echo], stream=stream, key=tenant.secret)
    calls: list[ToolCall] = []
    texts = []
    async for response in chain.responses():
        texts.append("".join([piece async for piece in response]))
        calls += await response.tool_calls()
    return calls, texts


@compat("tools", CLIENT)
async def test_tools(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    calls, texts = await run_chain(gateway, tenant, model, stream=False)
    assert [(call.name, call.arguments) for call in calls] == [("echo", TOOL_ARGUMENTS)]
    assert texts[-1].startswith("Echo: ") and TOOL_RESULT in texts[-1]


@compat("tools-stream", CLIENT)
async def test_tools_stream(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    calls, texts = await run_chain(gateway, tenant, model, stream=True)
    assert [(call.name, call.arguments) for call in calls] == [("echo", TOOL_ARGUMENTS)]
    assert texts[-1].startswith("Echo: ") and TOOL_RESULT in texts[-1]


@compat("structured", CLIENT)
async def test_structured(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    response = chat(gateway, model).prompt(PROMPT, schema=Echo, key=tenant.secret)
    assert_echoed(Echo.model_validate(json.loads(await response.text())))


@compat(
    "embeddings",
    CLIENT,
    providers=("openai", "gemini"),
)
async def test_embeddings(
    gateway: RunningGateway,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    client: str,
    provider: str,
    model: str,
) -> None:
    # llm's OpenAI embedding models take their endpoint from the openai SDK's environment.
    monkeypatch.setenv("OPENAI_BASE_URL", openai_base(gateway))
    embedder = OpenAIEmbeddingModel(f"aisonar-{model}", model)  # type: ignore[no-untyped-call]
    vector = await asyncio.to_thread(embedder.embed, PROMPT, key=tenant.secret)
    assert_fake_embedding(vector, PROMPT, model)
