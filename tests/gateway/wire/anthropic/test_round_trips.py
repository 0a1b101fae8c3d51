"""Anthropic translation: what goes through the hub and back comes out the same."""

from __future__ import annotations

from aisonar.gateway.wire.anthropic.hub_client import (
    TOOL_ERROR_PREFIX,
    anthropic_request_to_hub,
    hub_response_to_anthropic,
)
from aisonar.gateway.wire.anthropic.hub_upstream import (
    anthropic_response_to_hub,
)
from aisonar.gateway.wire.delivery import drop_for_target
from tests.gateway.wire.anthropic.cases import (
    ANTHROPIC_USAGE,
    CONVERSATION,
    MODEL,
    WEATHER_TOOL,
    messages_request,
    sdk_final_message,
    to_anthropic,
    write_stream,
)
from tests.gateway.wire.anthropic.test_hub_upstream import (
    ANTHROPIC_STREAM,
    anthropic_message,
    read_stream,
)

# Hub request -> Anthropic request


# Round trips


def test_an_anthropic_request_survives_the_hub_round_trip() -> None:
    request = messages_request(
        system=[{"type": "text", "text": "Be brief."}],
        messages=CONVERSATION,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": "weather"},
        stop_sequences=["END"],
        temperature=0.2,
        thinking={"type": "enabled", "budget_tokens": 1024},
        metadata={"user_id": "user-7"},
        stream=True,
    )

    hub = anthropic_request_to_hub(request)
    # Toward Anthropic, as the pipeline sends it: cache hints carried, so nothing dropped.
    assert drop_for_target(hub, "anthropic", "anthropic") == []
    again = to_anthropic(hub)

    assert again["system"] == request["system"]
    assert again["tools"] == [WEATHER_TOOL]
    assert again["messages"][0] == {"role": "user", "content": CONVERSATION[0]["content"]}
    assert again["messages"][1] == {"role": "assistant", "content": CONVERSATION[1]["content"][2:]}
    assert again["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "content": TOOL_ERROR_PREFIX + "Station\ndown",
        },
        {"type": "text", "text": "And tomorrow?"},
    ]
    for name in (
        "model",
        "max_tokens",
        "tool_choice",
        "stop_sequences",
        "temperature",
        "thinking",
        "metadata",
        "stream",
    ):
        assert again[name] == request[name], name


def test_a_message_survives_the_hub_round_trip() -> None:
    doc = anthropic_message(
        [
            {"type": "thinking", "thinking": "Paris.", "signature": "c2ln"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
        ],
        stop_reason="tool_use",
    )

    again = hub_response_to_anthropic(anthropic_response_to_hub(doc), MODEL)

    assert again == {
        **doc,
        "model": MODEL,
        "content": [{**doc["content"][0], "signature": ""}, *doc["content"][1:]],
    }


def test_an_anthropic_stream_survives_the_hub_round_trip() -> None:
    chunks, _ = read_stream(ANTHROPIC_STREAM)

    message = sdk_final_message(write_stream(chunks))

    assert message.id == "msg_01"
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "thinking", "thinking": "Paris, then Oslo.", "signature": ""},
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Oslo"}},
    ]
    assert message.stop_reason == "tool_use"
    assert message.usage.model_dump(exclude_none=True) == ANTHROPIC_USAGE
