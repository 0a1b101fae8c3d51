"""Pydantic AI agents on its Google model (`GoogleModel` with `GoogleProvider`, over
google-genai) pointed at the gateway's Gemini API and calling every provider's model. Its
`google` extra wants the google-genai 2.x that the suite's pins replace, so it runs in an
environment of its own: tests/compat/isolated/pydantic_ai_google_client.py tries every
feature on every model."""

from __future__ import annotations

from typing import Any

import pytest

from aisonar.testing.gateway_server import RunningGateway
from tests.compat.cells import CHAT_MODELS, EMBEDDING_MODELS, compat
from tests.compat.isolated_clients import run_client, value
from tests.compat.support import ECHO, PROMPT, TOOL_ARGUMENTS, assert_fake_embedding, echo
from tests.support import Backend, make_tenant

GOOGLE = "pydantic-ai google"
# The fake calls the tool with the prompt, then echoes what the tool returned.
TOOL_RESULT = echo(PROMPT)


@pytest.fixture(scope="module")
async def google_features(gateway: RunningGateway, backend: Backend) -> dict[str, Any]:
    """Every feature's outcome by model, from one run of the script."""
    tenant = await make_tenant(backend.engine)
    env = {"AISONAR_URL": gateway.url, "AISONAR_KEY": tenant.secret, "AISONAR_PROMPT": PROMPT}
    models = (",".join(CHAT_MODELS.values()), ",".join(EMBEDDING_MODELS.values()))
    return await run_client("pydantic_ai_google", *models, env=env)


@compat("text", GOOGLE)
async def test_text(
    google_features: dict[str, Any], client: str, provider: str, model: str
) -> None:
    assert value(google_features[model], "text") == ECHO


@compat("stream", GOOGLE)
async def test_stream(
    google_features: dict[str, Any], client: str, provider: str, model: str
) -> None:
    pieces = value(google_features[model], "stream")
    assert len(pieces) > 1
    assert "".join(pieces) == ECHO


@compat("tools", GOOGLE)
async def test_tools(
    google_features: dict[str, Any], client: str, provider: str, model: str
) -> None:
    answer = value(google_features[model], "tools")
    assert answer["calls"] == [["echo", TOOL_ARGUMENTS]]
    assert answer["text"].startswith("Echo: ") and TOOL_RESULT in answer["text"]


@compat("tools-stream", GOOGLE)
async def test_tools_stream(
    google_features: dict[str, Any], client: str, provider: str, model: str
) -> None:
    answer = value(google_features[model], "tools-stream")
    assert answer["calls"] == [["echo", TOOL_ARGUMENTS]]
    assert answer["text"].startswith("Echo: ") and TOOL_RESULT in answer["text"]


@compat("structured", GOOGLE)
async def test_structured(
    google_features: dict[str, Any], client: str, provider: str, model: str
) -> None:
    assert value(google_features[model], "structured") == {"echo": PROMPT}


@compat("embeddings", GOOGLE, providers=("openai", "gemini"))
async def test_embeddings(
    google_features: dict[str, Any], client: str, provider: str, model: str
) -> None:
    assert_fake_embedding(value(google_features[model], "embeddings"), PROMPT, model)
