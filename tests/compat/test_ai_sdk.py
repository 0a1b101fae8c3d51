"""The Vercel AI SDK (`ai` with `@ai-sdk/openai`, `@ai-sdk/anthropic`, `@ai-sdk/google`)
run by node against the gateway: tests/node/ai_sdk.mjs tries every feature of one provider
package on one model and reports each outcome, read here cell by cell."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest

from aisonar.testing.gateway_server import RunningGateway
from tests.compat.cells import CHAT_MODELS, EMBEDDING_MODELS, compat
from tests.compat.support import ECHO, PROMPT, TOOL_ARGUMENTS, assert_fake_embedding, echo
from tests.node_clients import node_project
from tests.support import Backend, make_tenant

# `openai(model)` calls the Responses API; `openai.chat(model)` chat completions.
WIRES = {
    "ai-sdk openai": "openai",
    "ai-sdk openai.chat": "openai.chat",
    "ai-sdk anthropic": "anthropic",
    "ai-sdk google": "google",
}
CLIENTS = tuple(WIRES)
TOOL_RESULT = echo(PROMPT)
Run = Callable[[str, str], Awaitable[dict[str, Any]]]


@pytest.fixture(scope="module")
async def ai_sdk(gateway: RunningGateway, backend: Backend) -> AsyncIterator[Run]:
    """Runs the script once per client and model, however many cells read it."""
    node = shutil.which("node")
    project = node_project()
    assert node, "npm is installed without node"
    tenant = await make_tenant(backend.engine)
    env = {
        **os.environ,
        "AISONAR_URL": gateway.url,
        "AISONAR_KEY": tenant.secret,
        "AISONAR_PROMPT": PROMPT,
    }
    runs: dict[tuple[str, str], dict[str, Any]] = {}

    async def run(client: str, model: str) -> dict[str, Any]:
        if (client, model) not in runs:
            provider = next(p for p, m in CHAT_MODELS.items() if m == model)
            embedding = EMBEDDING_MODELS.get(provider) if client != "ai-sdk anthropic" else None
            process = await asyncio.create_subprocess_exec(
                node,
                "ai_sdk.mjs",
                WIRES[client],
                model,
                *([embedding] if embedding else []),
                cwd=project,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), 120)
            assert process.returncode == 0, err.decode()
            runs[client, model] = orjson.loads(out)
        return runs[client, model]

    yield run


def value(results: dict[str, Any], feature: str) -> Any:
    outcome = results[feature]
    assert "error" not in outcome, outcome["error"]
    return outcome["value"]


@compat("text", *CLIENTS)
async def test_text(ai_sdk: Run, client: str, provider: str, model: str) -> None:
    assert value(await ai_sdk(client, model), "text") == ECHO


@compat("stream", *CLIENTS)
async def test_stream(ai_sdk: Run, client: str, provider: str, model: str) -> None:
    pieces = value(await ai_sdk(client, model), "stream")
    assert len(pieces) > 1
    assert "".join(pieces) == ECHO


@compat("tools", *CLIENTS)
async def test_tools(ai_sdk: Run, client: str, provider: str, model: str) -> None:
    answer = value(await ai_sdk(client, model), "tools")
    assert answer["calls"] == [["echo", TOOL_ARGUMENTS]]
    assert answer["text"].startswith("Echo: ") and TOOL_RESULT in answer["text"]


@compat("tools-stream", *CLIENTS)
async def test_tools_stream(ai_sdk: Run, client: str, provider: str, model: str) -> None:
    answer = value(await ai_sdk(client, model), "tools-stream")
    assert answer["calls"] == [["echo", TOOL_ARGUMENTS]]
    assert answer["text"].startswith("Echo: ") and TOOL_RESULT in answer["text"]


@compat("structured", *CLIENTS)
async def test_structured(ai_sdk: Run, client: str, provider: str, model: str) -> None:
    answer = value(await ai_sdk(client, model), "structured")
    assert answer["echo"].startswith(PROMPT), answer


@compat(
    "embeddings",
    "ai-sdk openai",
    "ai-sdk google",
    providers=("openai", "gemini"),
)
async def test_embeddings(ai_sdk: Run, client: str, provider: str, model: str) -> None:
    chat_model = CHAT_MODELS[provider]
    assert_fake_embedding(value(await ai_sdk(client, chat_model), "embeddings"), PROMPT, model)
