"""Pydantic AI's Google model (google-genai) against the gateway's Gemini API, run in its own
environment (pydantic_ai_google.txt) by tests/compat/test_pydantic_ai_google.py: every
feature on each model, printed as JSON (`{model: {feature: {"value": ...} or {"error":
"..."}}}`).

    python pydantic_ai_google_client.py CHAT_MODEL,... EMBEDDING_MODEL,...

with AISONAR_URL, AISONAR_KEY and AISONAR_PROMPT in the environment. A chat model's features
are text, stream (the pieces), tools and tools-stream (the calls made and the final text)
and structured (the object's fields); an embedding model's is embeddings (the vector)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic_ai import Agent, Embedder
from pydantic_ai.embeddings.google import GoogleEmbeddingModel
from pydantic_ai.messages import ToolCallPart
from pydantic_ai.models.google import GoogleModel
from pydantic_ai.providers.google import GoogleProvider


class Echo(BaseModel):
    echo: str


def echo(echo: str) -> str:
    """Echo the given text back."""
    return "tool said " + echo


def tool_calls(messages: Sequence[object]) -> list[list[object]]:
    return [
        [part.tool_name, part.args_as_dict()]
        for message in messages
        for part in getattr(message, "parts", [])
        if isinstance(part, ToolCallPart)
    ]


Feature = Callable[[], Awaitable[Any]]


def chat_features(model: GoogleModel, prompt: str) -> dict[str, Feature]:
    async def text() -> str:
        return (await Agent(model).run(prompt)).output

    async def stream() -> list[str]:
        async with Agent(model).run_stream(prompt) as result:
            return [piece async for piece in result.stream_text(delta=True, debounce_by=None)]

    async def tools() -> dict[str, Any]:
        result = await Agent(model, tools=[echo]).run(prompt)
        return {"calls": tool_calls(result.all_messages()), "text": result.output}

    async def tools_stream() -> dict[str, Any]:
        async with Agent(model, tools=[echo]).run_stream(prompt) as result:
            output = await result.get_output()
            return {"calls": tool_calls(result.all_messages()), "text": output}

    async def structured() -> dict[str, Any]:
        return (await Agent(model, output_type=Echo).run(prompt)).output.model_dump()

    return {
        "text": text,
        "stream": stream,
        "tools": tools,
        "tools-stream": tools_stream,
        "structured": structured,
    }


def embedding_features(model: GoogleEmbeddingModel, prompt: str) -> dict[str, Feature]:
    async def embeddings() -> list[float]:
        return list((await Embedder(model).embed_query(prompt)).embeddings[0])

    return {"embeddings": embeddings}


async def outcomes(features: dict[str, Feature]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, run in features.items():
        try:
            results[name] = {"value": await run()}
        except Exception as error:  # noqa: BLE001 - reported per feature, read by the test
            results[name] = {"error": f"{type(error).__name__}: {error}"}
    return results


async def main(chat_models: list[str], embedding_models: list[str]) -> None:
    url, key, prompt = (os.environ[f"AISONAR_{name}"] for name in ("URL", "KEY", "PROMPT"))
    provider = GoogleProvider(api_key=key, base_url=url)
    results: dict[str, Any] = {}
    for name in chat_models:
        results[name] = await outcomes(chat_features(GoogleModel(name, provider=provider), prompt))
    for name in embedding_models:
        model = GoogleEmbeddingModel(name, provider=provider)
        results[name] = await outcomes(embedding_features(model, prompt))
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    chat, embedding = (argument.split(",") for argument in sys.argv[1:3])
    asyncio.run(main(chat, embedding))
