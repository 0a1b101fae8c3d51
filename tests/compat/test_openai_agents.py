"""The OpenAI Agents SDK on its default Responses model and on its chat completions model,
pointed at the gateway and running agents on every provider's model."""

from __future__ import annotations

import json

from agents import (
    Agent,
    Model,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    RunResult,
    RunResultStreaming,
    ToolCallItem,
    function_tool,
)
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent

from aisonar.testing.gateway_server import RunningGateway
from tests.compat.cells import compat
from tests.compat.support import (
    ECHO,
    PROMPT,
    TOOL_ARGUMENTS,
    Echo,
    assert_echoed,
    echo,
    openai_base,
)
from tests.support import Tenant

RESPONSES = "openai-agents"
CHAT = "openai-agents chat completions"
CLIENTS = (RESPONSES, CHAT)
TOOL_RESULT = echo(PROMPT)


def agent(
    client: str, gateway: RunningGateway, tenant: Tenant, model: str, **options: object
) -> Agent[None]:
    openai = AsyncOpenAI(base_url=openai_base(gateway), api_key=tenant.secret, max_retries=0)
    chosen: Model = (
        OpenAIResponsesModel(model, openai)
        if client == RESPONSES
        else OpenAIChatCompletionsModel(model, openai)
    )
    return Agent(name="echo", model=chosen, **options)  # type: ignore[arg-type]


def tool_calls(result: RunResult | RunResultStreaming) -> list[tuple[str, object]]:
    calls = [item.raw_item for item in result.new_items if isinstance(item, ToolCallItem)]
    return [(call.name, json.loads(call.arguments)) for call in calls]  # type: ignore[union-attr]


@compat("text", *CLIENTS)
async def test_text(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    result = await Runner.run(agent(client, gateway, tenant, model), PROMPT)
    assert result.final_output == ECHO


async def streamed_text(result: RunResultStreaming) -> list[str]:
    return [
        event.data.delta
        async for event in result.stream_events()
        if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent)
    ]


@compat("stream", *CLIENTS)
async def test_stream(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    result = Runner.run_streamed(agent(client, gateway, tenant, model), PROMPT)
    pieces = await streamed_text(result)
    assert len(pieces) > 1
    assert "".join(pieces) == ECHO == result.final_output


@compat("tools", *CLIENTS)
async def test_tools(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    tools = [function_tool(echo)]
    result = await Runner.run(agent(client, gateway, tenant, model, tools=tools), PROMPT)
    assert tool_calls(result) == [("echo", TOOL_ARGUMENTS)]
    assert result.final_output.startswith("Echo: ") and TOOL_RESULT in result.final_output


@compat("tools-stream", *CLIENTS)
async def test_tools_stream(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    tools = [function_tool(echo)]
    result = Runner.run_streamed(agent(client, gateway, tenant, model, tools=tools), PROMPT)
    pieces = await streamed_text(result)
    assert tool_calls(result) == [("echo", TOOL_ARGUMENTS)]
    assert "".join(pieces) == result.final_output
    assert result.final_output.startswith("Echo: ") and TOOL_RESULT in result.final_output


@compat(
    "structured",
    *CLIENTS,
)
async def test_structured(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    result = await Runner.run(agent(client, gateway, tenant, model, output_type=Echo), PROMPT)
    assert_echoed(result.final_output)
