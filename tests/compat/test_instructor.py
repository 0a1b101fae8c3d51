"""instructor, with OpenAI's client (`from_openai`) and Anthropic's (`from_anthropic`) pointed
at the gateway. It conflicts with the suite's pins, so it runs in an environment of its own:
tests/compat/isolated/instructor_client.py tries its modes with both clients on every model.

instructor only parses objects, so its cells are its modes: `tools` is TOOLS mode (the
object as a forced tool call), `tools-stream` the same streamed with `create_partial`,
`structured` OpenAI's JSON_SCHEMA mode (`response_format: json_schema`) and, for the
JSON-mode client, its JSON mode (`json_object`). Anthropic's JSON modes only ask for JSON in
the system prompt, which the fake upstream does not read: no cell. The fake answers each
with the prompt as the object's one string."""

from __future__ import annotations

from typing import Any

import pytest

from aisonar.testing.gateway_server import RunningGateway
from tests.compat.cells import CHAT_MODELS, compat
from tests.compat.isolated_clients import run_client, value
from tests.compat.support import PROMPT
from tests.support import Backend, make_tenant

OPENAI = "instructor openai"
OPENAI_JSON = "instructor openai (JSON mode)"
ANTHROPIC = "instructor anthropic"
WIRES = {OPENAI: "openai", OPENAI_JSON: "openai", ANTHROPIC: "anthropic"}
ECHOED = {"echo": PROMPT}


@pytest.fixture(scope="module")
async def instructor_modes(gateway: RunningGateway, backend: Backend) -> dict[str, Any]:
    """Every mode's outcome by client and model, from one run of the script."""
    tenant = await make_tenant(backend.engine)
    env = {"AISONAR_URL": gateway.url, "AISONAR_KEY": tenant.secret, "AISONAR_PROMPT": PROMPT}
    return await run_client("instructor", *CHAT_MODELS.values(), env=env)


def mode(results: dict[str, Any], client: str, model: str, name: str) -> Any:
    return value(results[WIRES[client]][model], name)


@compat("tools", OPENAI, ANTHROPIC)
async def test_tools(
    instructor_modes: dict[str, Any], client: str, provider: str, model: str
) -> None:
    assert mode(instructor_modes, client, model, "TOOLS") == ECHOED


@compat("tools-stream", OPENAI, ANTHROPIC)
async def test_tools_stream(
    instructor_modes: dict[str, Any], client: str, provider: str, model: str
) -> None:
    # Gemini sends a call's arguments whole, the others in pieces: each partial object's
    # string is a beginning of the prompt, the last the whole.
    partials = mode(instructor_modes, client, model, "TOOLS partial")
    assert all(PROMPT.startswith(partial["echo"] or "") for partial in partials), partials
    assert partials[-1] == ECHOED


@compat("structured", OPENAI, OPENAI_JSON)
async def test_structured(
    instructor_modes: dict[str, Any], client: str, provider: str, model: str
) -> None:
    name = "JSON" if client == OPENAI_JSON else "JSON_SCHEMA"
    assert mode(instructor_modes, client, model, name) == ECHOED
