"""Claude Code's own requests, as it sends them with its defaults (captured from Claude Code
2.1.197 through a logging proxy, long texts replaced: agent_requests/), replayed to a model
of every provider, streamed: each is answered, its delivery-only fields dropped and named,
and charged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from aisonar.gateway.sse import SseSplitter, event_data
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.wire.anthropic.cases import sdk_final_message
from tests.support import Backend, Tenant, recorded_events

REQUESTS = Path(__file__).resolve().parent / "agent_requests"
# The fixtures redact the header's value; these are the betas Claude Code sends by default.
BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "fine-grained-tool-streaming-2025-05-14,effort-2025-11-24"
)
TRANSLATED_DROPS = [
    "context_management",
    "system[].cache_control",
    "messages[].content[].cache_control",
]


def captured(name: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((REQUESTS / name).read_bytes())
    return document


def stream_events(body: bytes) -> list[str]:
    splitter = SseSplitter()
    events = splitter.feed(body)
    return [orjson.loads(event_data(event))["type"] for event in events if event_data(event)]


def sent_output_limit(sent: dict[str, Any]) -> int:
    """The output limit of the request the upstream received, in any of the three formats."""
    limit = sent.get("max_tokens") or sent.get("generationConfig", {}).get("maxOutputTokens")
    assert isinstance(limit, int)
    return limit


@pytest.mark.parametrize(
    ("model", "dropped", "output_limit"),
    [
        # A model that does not reason has no use for the effort, and OpenAI would refuse it.
        # Claude Code's 32,000 output tokens are clamped to the model's 16,384.
        ("gpt-4o-mini", [*TRANSLATED_DROPS, "output_config.effort"], 16384),
        # Gemini has no end-user field.
        ("gemini-2.5-flash", [*TRANSLATED_DROPS, "metadata.user_id"], 32000),
        # Anthropic's own: passed through, nothing dropped.
        ("claude-haiku-4-5", None, 32000),
    ],
)
@pytest.mark.parametrize(
    "fixture",
    [
        "claude-code_messages_to_gpt-4o-mini.json",
        "claude-code_messages_to_gemini-2.5-flash.json",
    ],
)
async def test_claude_code_works_on_every_model_with_its_defaults(
    gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    fixture: str,
    model: str,
    dropped: list[str] | None,
    output_limit: int,
) -> None:
    request = captured(fixture)
    body = {**request["body"], "model": model}
    headers = {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": BETAS,
        "x-api-key": tenant.secret,
        "user-agent": request["headers"]["User-Agent"],
    }
    path = f"{request['path']}?{request['query']}"
    async with (
        aiohttp.ClientSession(gateway.url) as http,
        http.post(path, data=orjson.dumps(body), headers=headers) as response,
    ):
        answer = await response.read()
        assert response.status == 200, answer
        assert response.headers["content-type"].startswith("text/event-stream")
        shown = response.headers.get("x-aisonar-dropped-fields")

    assert shown == (None if dropped is None else ", ".join(dropped))
    sent = fake_upstream.received[-1]
    assert sent_output_limit(sent) == output_limit
    assert ("context_management" in sent) is (dropped is None)
    kinds = stream_events(answer)
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    message = sdk_final_message(answer)
    assert message.stop_reason in ("end_turn", "tool_use", "max_tokens")
    assert message.usage.output_tokens > 0
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 200 and event.requested_model == model
    assert event.cost > 0 and not event.tokens_estimated
    assert event.output_tokens == message.usage.output_tokens
