"""An Anthropic client's `cache_control` through the hub: carried to Bedrock as cache points
(and not named as dropped), left out of and named for the providers without breakpoints,
whose requests stay what they were."""

from __future__ import annotations

import copy
from typing import Any

from aisonar.gateway.wire.anthropic.hub_client import anthropic_request_to_hub
from aisonar.gateway.wire.bedrock.hub_upstream import hub_request_to_converse
from aisonar.gateway.wire.delivery import drop_for_target
from aisonar.gateway.wire.gemini.hub_upstream import hub_request_to_gemini
from aisonar.gateway.wire.openai.upstream import openai_request_from_hub

EPHEMERAL = {"type": "ephemeral"}
CACHE_POINT = {"cachePoint": {"type": "default"}}
CLAUDE_CODE_LIKE: dict[str, Any] = {
    "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "max_tokens": 100,
    "system": [{"type": "text", "text": "Long rules", "cache_control": EPHEMERAL}],
    "tools": [
        {
            "name": "read",
            "input_schema": {"type": "object", "properties": {}},
            "cache_control": EPHEMERAL,
        }
    ],
    "messages": [
        {"role": "user", "content": "Read it"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "read",
                    "input": {},
                    "cache_control": EPHEMERAL,
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "file text",
                    "cache_control": EPHEMERAL,
                }
            ],
        },
    ],
}


def hub_for(provider: str) -> tuple[dict[str, Any], list[str]]:
    hub = anthropic_request_to_hub(copy.deepcopy(CLAUDE_CODE_LIKE))
    return hub, drop_for_target(hub, "anthropic", provider)


def test_bedrock_gets_a_cache_point_after_each_marked_block_and_tool() -> None:
    hub, dropped = hub_for("bedrock")

    converse = hub_request_to_converse(hub)

    assert converse["system"] == [{"text": "Long rules"}, CACHE_POINT]
    assert converse["toolConfig"]["tools"][1] == CACHE_POINT
    assert converse["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": "toolu_1", "content": [{"text": "file text"}]}},
        CACHE_POINT,
    ]
    # The tool_use block's hint has no place, and its path is the tool result's too.
    assert dropped == ["messages[].content[].cache_control"]


def test_other_providers_get_the_request_they_always_got_and_every_hint_is_named() -> None:
    names = [
        "system[].cache_control",
        "tools[].cache_control",
        "messages[].content[].cache_control",
    ]
    for provider in ("openai", "gemini"):
        hub, dropped = hub_for(provider)
        assert sorted(dropped) == sorted(names)
        assert "prompt_cache_breakpoint" not in repr(hub)

    hub, _ = hub_for("openai")
    messages = openai_request_from_hub(hub)["messages"]
    assert messages[0]["content"] == [{"type": "text", "text": "Long rules"}]
    assert messages[-1] == {"role": "tool", "tool_call_id": "toolu_1", "content": "file text"}
    hub, _ = hub_for("gemini")
    assert "prompt_cache_breakpoint" not in repr(hub_request_to_gemini(hub))
