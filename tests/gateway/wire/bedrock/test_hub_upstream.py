"""Hub requests as Converse requests: every field translated or refused, cache breakpoints as
cache points, and the adapter's URLs and headers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aisonar.channels.models import Channel, ChannelWithSecret
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.bedrock.hub_upstream import hub_request_to_converse
from aisonar.gateway.wire.bedrock.upstream import BedrockProvider
from aisonar.gateway.wire.hub import UnsupportedFeature

CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
PNG = "iVBORw0KGgo="
BREAKPOINT = {"mode": "explicit"}
WEATHER_PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather of a city",
        "parameters": WEATHER_PARAMETERS,
    },
}


def hub(**fields: Any) -> dict[str, Any]:
    return {
        "model": CLAUDE,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
        **fields,
    }


def test_a_conversation_becomes_converse_messages() -> None:
    request = hub(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "And kind."}]},
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": [{"type": "text", "text": "there"}]},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Bye"},
        ],
        temperature=0.5,
        top_p=0.9,
        stop="END",
    )

    assert hub_request_to_converse(request) == {
        "system": [{"text": "Be brief."}, {"text": "And kind."}],
        "messages": [
            {"role": "user", "content": [{"text": "Hi"}, {"text": "there"}]},
            {"role": "assistant", "content": [{"text": "Hello"}]},
            {"role": "user", "content": [{"text": "Bye"}]},
        ],
        "inferenceConfig": {
            "maxTokens": 100,
            "temperature": 0.5,
            "topP": 0.9,
            "stopSequences": ["END"],
        },
    }


def test_cache_breakpoints_become_cache_points_after_their_part() -> None:
    request = hub(
        messages=[
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": "Long rules", "prompt_cache_breakpoint": BREAKPOINT}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "Long document",
                        "prompt_cache_breakpoint": BREAKPOINT,
                    },
                    {"type": "text", "text": "Question"},
                ],
            },
        ]
    )

    converse = hub_request_to_converse(request)

    assert converse["system"] == [{"text": "Long rules"}, {"cachePoint": {"type": "default"}}]
    assert converse["messages"][0]["content"] == [
        {"text": "Long document"},
        {"cachePoint": {"type": "default"}},
        {"text": "Question"},
    ]


def test_tool_calls_and_results_are_tool_use_and_tool_result_blocks() -> None:
    request = hub(
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "call_1",
                "content": [
                    {"type": "text", "text": "Sunny", "prompt_cache_breakpoint": BREAKPOINT}
                ],
            },
        ],
        tools=[WEATHER],
        tool_choice="required",
    )

    converse = hub_request_to_converse(request)

    assert converse["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "toolUse": {
                        "toolUseId": "call_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "call_1", "content": [{"text": "Sunny"}]}},
                {"cachePoint": {"type": "default"}},
            ],
        },
    ]
    assert converse["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "The weather of a city",
                    "inputSchema": {"json": WEATHER_PARAMETERS},
                }
            }
        ],
        "toolChoice": {"any": {}},
    }


def test_a_named_tool_choice_names_the_tool() -> None:
    choice = {"type": "function", "function": {"name": "get_weather"}}
    converse = hub_request_to_converse(hub(tools=[WEATHER], tool_choice=choice))

    assert converse["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}


def test_no_tool_choice_sends_no_tools_unless_the_conversation_has_tool_calls() -> None:
    assert "toolConfig" not in hub_request_to_converse(hub(tools=[WEATHER], tool_choice="none"))
    with_result = hub(
        messages=[
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c", "content": "Sunny"},
        ],
        tools=[WEATHER],
        tool_choice="none",
    )
    with pytest.raises(UnsupportedFeature) as refused:
        hub_request_to_converse(with_result)
    assert refused.value.features == ["tool_choice"]


def test_images_are_sent_as_bytes_and_urls_are_refused() -> None:
    part = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    converse = hub_request_to_converse(hub(messages=[{"role": "user", "content": [part]}]))
    assert converse["messages"][0]["content"] == [
        {"image": {"format": "png", "source": {"bytes": PNG}}}
    ]

    remote = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    with pytest.raises(UnsupportedFeature):
        hub_request_to_converse(hub(messages=[{"role": "user", "content": [remote]}]))
    broken = {"type": "image_url", "image_url": {"url": "data:image/png;base64,***"}}
    with pytest.raises(InvalidRequest):
        hub_request_to_converse(hub(messages=[{"role": "user", "content": [broken]}]))


def test_claude_thinking_is_an_additional_field_and_other_models_refuse_it() -> None:
    converse = hub_request_to_converse(hub(max_tokens=8000, reasoning_effort="medium"))
    assert converse["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 4096}
    }
    assert "additionalModelRequestFields" not in hub_request_to_converse(
        hub(reasoning_effort="none")
    )
    with pytest.raises(UnsupportedFeature):
        hub_request_to_converse(hub(model="amazon.nova-lite-v1:0", thinking_budget=2048))


def test_a_json_schema_is_the_output_format_and_json_mode_is_refused() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}

    converse = hub_request_to_converse(hub(response_format=response_format))

    structure = converse["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    assert converse["outputConfig"]["textFormat"]["type"] == "json_schema"
    assert (json.loads(structure["schema"]), structure["name"]) == (schema, "answer")
    with pytest.raises(UnsupportedFeature):
        hub_request_to_converse(hub(response_format={"type": "json_object"}))


def test_every_field_that_cannot_be_translated_is_named() -> None:
    with pytest.raises(UnsupportedFeature) as refused:
        hub_request_to_converse(hub(n=2, logprobs=True, seed=7, n_ignored=None))

    assert refused.value.features == ["n", "logprobs", "seed"]


def test_neutral_values_and_delivery_only_fields_pass() -> None:
    converse = hub_request_to_converse(
        hub(n=1, presence_penalty=0, stream=True, stream_options={"include_usage": True}, user="u")
    )

    assert set(converse) == {"messages", "inferenceConfig"}


def channel(api_key: str) -> ChannelWithSecret:
    return ChannelWithSecret(
        Channel(
            "chn_1",
            "bedrock",
            "bedrock",
            "https://bedrock-runtime.eu-west-1.amazonaws.com",
            {"claude": CLAUDE},
            True,
            options={"region": "eu-west-1"},
        ),
        api_key,
    )


def test_the_model_id_is_in_the_url_and_the_probe_asks_the_control_plane() -> None:
    adapter, entry = BedrockProvider(), channel("ABSK-key")
    arn = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc"

    assert adapter.url(entry.channel, CLAUDE, True) == (
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/"
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse-stream"
    )
    assert adapter.url(entry.channel, arn, False).endswith(
        "/model/arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile%2Fabc/converse"
    )
    assert adapter.models_url(entry.channel) == (
        "https://bedrock.eu-west-1.amazonaws.com/foundation-models"
    )


def test_an_api_key_is_a_bearer_header_and_a_key_pair_a_signer() -> None:
    adapter = BedrockProvider()
    assert adapter.headers(channel("ABSK-key"))["Authorization"] == "Bearer ABSK-key"
    assert adapter.signer(channel("ABSK-key")) is None

    pair = channel(json.dumps({"access_key_id": "AKIA0", "secret_access_key": "s"}))
    assert "Authorization" not in adapter.headers(pair)
    assert adapter.signer(pair) is not None
