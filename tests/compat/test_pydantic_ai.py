"""Pydantic AI agents on its OpenAI (chat completions) and Anthropic models, pointed at the
gateway and calling every provider's model. Its Google model runs in an environment of its
own (its `google` extra requires a google-genai older than the one the suite pins):
test_pydantic_ai_google.py."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_ai import Agent, Embedder
from pydantic_ai.embeddings.openai import OpenAIEmbeddingModel
from pydantic_ai.messages import ToolCallPart
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

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

OPENAI = "pydantic-ai openai"
ANTHROPIC = "pydantic-ai anthropic"
CLIENTS = (OPENAI, ANTHROPIC)
# The fake calls the tool with the prompt, then echoes what the tool returned (as Gemini's
# function response, `{"output": ...}`, on a Gemini model).
TOOL_RESULT = echo(PROMPT)


def chat_model(client: str, gateway: RunningGateway, tenant: Tenant, model: str) -> Model:
    if client == OPENAI:
        provider = OpenAIProvider(base_url=openai_base(gateway), api_key=tenant.secret)
        return OpenAIChatModel(model, provider=provider)
    return AnthropicModel(
        model, provider=AnthropicProvider(base_url=gateway.url, api_key=tenant.secret)
    )


@compat("text", *CLIENTS)
async def test_text(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    result = await Agent(chat_model(client, gateway, tenant, model)).run(PROMPT)
    assert result.output == ECHO


@compat("stream", *CLIENTS)
async def test_stream(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    agent = Agent(chat_model(client, gateway, tenant, model))
    async with agent.run_stream(PROMPT) as result:
        pieces = [piece async for piece in result.stream_text(delta=True, debounce_by=None)]
    assert len(pieces) > 1
    assert "".join(pieces) == ECHO


def tool_calls(messages: Sequence[object]) -> list[tuple[str, object]]:
    return [
        (part.tool_name, part.args_as_dict())
        for message in messages
        for part in getattr(message, "parts", [])
        if isinstance(part, ToolCallPart)
    ]


@compat("tools", *CLIENTS)
async def test_tools(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    agent = Agent(chat_model(client, gateway, tenant, model), tools=[echo])
    result = await agent.run(PROMPT)
    assert tool_calls(result.all_messages()) == [("echo", TOOL_ARGUMENTS)]
    assert result.output.startswith("Echo: ") and TOOL_RESULT in result.output


@compat("tools-stream", *CLIENTS)
async def test_tools_stream(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    agent = Agent(chat_model(client, gateway, tenant, model), tools=[echo])
    async with agent.run_stream(PROMPT) as result:
        output = await result.get_output()
        messages = result.all_messages()
    assert tool_calls(messages) == [("echo", TOOL_ARGUMENTS)]
    assert output.startswith("Echo: ") and TOOL_RESULT in output


@compat("structured", *CLIENTS)
async def test_structured(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    agent = Agent(chat_model(client, gateway, tenant, model), output_type=Echo)
    assert_echoed((await agent.run(PROMPT)).output)


@compat(
    "embeddings",
    OPENAI,
    providers=("openai", "gemini"),
)
async def test_embeddings(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    provider_ = OpenAIProvider(base_url=openai_base(gateway), api_key=tenant.secret)
    embedder = Embedder(OpenAIEmbeddingModel(model, provider=provider_))
    result = await embedder.embed_query(PROMPT)
    assert_fake_embedding(result.embeddings[0], PROMPT, model)
