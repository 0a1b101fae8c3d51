"""The delivery-only rule and Claude Code's defaults: what translation drops (and names),
maps, carries and refuses, all at once."""

from __future__ import annotations

import hashlib

import pytest

from aisonar.gateway.wire.anthropic.hub_client import anthropic_request_to_hub
from aisonar.gateway.wire.delivery import drop_for_target
from aisonar.gateway.wire.gemini.hub_client import gemini_request_to_hub
from aisonar.gateway.wire.gemini.hub_upstream import hub_request_to_gemini
from aisonar.gateway.wire.hub import DROPPED, JsonObject, UnsupportedFeature
from aisonar.gateway.wire.openai.upstream import openai_request_from_hub
from tests.gateway.wire.anthropic.cases import WEATHER_TOOL, messages_request

PNG = "iVBORw0KGgo="
CALL = {
    "id": "toolu_1",
    "type": "function",
    "function": {"name": "screenshot", "arguments": "{}"},
}


def anthropic_with_screenshot(*, is_error: bool = False) -> JsonObject:
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "is_error": is_error,
        "content": [
            {"type": "text", "text": "The screen:"},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                "cache_control": {"type": "ephemeral"},
            },
        ],
    }
    call = {"type": "tool_use", "id": "toolu_1", "name": "screenshot", "input": {}}
    return messages_request(
        messages=[
            {"role": "user", "content": "Look"},
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [result, {"type": "text", "text": "What is on it?"}]},
        ]
    )


# Anthropic -> hub


def test_claude_codes_delivery_fields_are_dropped_and_recorded() -> None:
    hub = anthropic_request_to_hub(
        messages_request(
            system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            tools=[{**WEATHER_TOOL, "eager_input_streaming": True}],
        )
    )

    assert hub[DROPPED] == [
        "context_management",
        "system[].cache_control",
        "tools[].cache_control",
        "tools[].eager_input_streaming",
    ]
    assert "context_management" not in hub
    assert "eager_input_streaming" not in hub["tools"][0]["function"]


def test_a_request_dropping_nothing_records_nothing() -> None:
    assert DROPPED not in anthropic_request_to_hub(messages_request())


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_output_effort_is_the_reasoning_effort(effort: str) -> None:
    hub = anthropic_request_to_hub(messages_request(output_config={"effort": effort}))

    assert hub["reasoning_effort"] == effort


def test_adaptive_thinking_leaves_the_targets_default() -> None:
    hub = anthropic_request_to_hub(messages_request(thinking={"type": "adaptive"}))

    assert "thinking_budget" not in hub and "reasoning_effort" not in hub
    assert "reasoning_effort" not in openai_request_from_hub(hub)
    assert "thinkingConfig" not in hub_request_to_gemini(hub).get("generationConfig", {})


def test_enabled_thinking_keeps_its_budget() -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    hub = anthropic_request_to_hub(messages_request(thinking=thinking))

    assert hub["thinking_budget"] == 2048
    assert openai_request_from_hub(hub)["reasoning_effort"] == "medium"
    config = hub_request_to_gemini(hub)["generationConfig"]
    assert config["thinkingConfig"]["thinkingBudget"] == 2048


def test_an_output_format_is_the_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    request = messages_request(output_config={"format": {"type": "json_schema", "schema": schema}})

    hub = anthropic_request_to_hub(request)

    assert hub["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema, "strict": True},
    }


def test_the_user_id_is_the_end_user() -> None:
    hub = anthropic_request_to_hub(messages_request(metadata={"user_id": "user-7"}))

    assert hub["user"] == "user-7"


def test_images_in_a_tool_result_stay_in_the_tool_message() -> None:
    hub = anthropic_request_to_hub(anthropic_with_screenshot())

    assert hub["messages"][2] == {
        "role": "tool",
        "tool_call_id": "toolu_1",
        "content": [
            {"type": "text", "text": "The screen:"},
            {
                "type": "image_url",
                "image_url": {"url": f"data:image/png;base64,{PNG}"},
                "prompt_cache_breakpoint": {"mode": "explicit"},
            },
        ],
    }
    assert hub[DROPPED] == ["messages[].content[].content[].cache_control"]


def test_a_failed_tool_result_with_an_image_says_so_first() -> None:
    hub = anthropic_request_to_hub(anthropic_with_screenshot(is_error=True))

    assert hub["messages"][2]["content"][0] == {"type": "text", "text": "Error:"}


def test_every_field_that_cannot_be_translated_is_named() -> None:
    request = messages_request(
        top_k=5,
        container="container_1",
        thinking={"type": "sometimes"},
        tools=[{**WEATHER_TOOL, "defer_loading": True, "input_examples": []}],
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "x", "citations": []}],
            }
        ],
        context_management={"edits": []},
    )

    with pytest.raises(UnsupportedFeature) as refused:
        anthropic_request_to_hub(request)

    named = [
        "top_k",
        "container",
        "messages[0].content[0].citations",
        "thinking.type",
        "tools[0].defer_loading",
        "tools[0].input_examples",
    ]
    assert refused.value.features == named
    assert refused.value.param == ", ".join(named)
    assert all(f"`{name}`" in refused.value.message for name in named)
    assert "context_management" not in refused.value.message


# Hub -> providers


def test_openai_sees_a_tool_results_images_in_a_user_message_after_the_results() -> None:
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    second_call = {**CALL, "id": "toolu_2"}
    hub: JsonObject = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "user", "content": "Look"},
            {"role": "assistant", "content": None, "tool_calls": [CALL, second_call]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": [image]},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "done"},
            {"role": "user", "content": "What is on it?"},
        ],
    }

    messages = openai_request_from_hub(hub)["messages"]

    assert [message["role"] for message in messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "user",
        "user",
    ]
    assert isinstance(messages[2]["content"], str)
    assert messages[4] == {"role": "user", "content": [image]}


def test_gemini_takes_a_tool_results_images_in_its_function_response() -> None:
    hub = anthropic_request_to_hub(anthropic_with_screenshot())
    drop_for_target(hub, "anthropic", "gemini")

    contents = hub_request_to_gemini(hub)["contents"]

    response = contents[2]["parts"][0]["functionResponse"]
    assert response["name"] == "screenshot"
    assert response["response"] == {"output": "The screen:"}
    assert response["parts"] == [{"inlineData": {"mimeType": "image/png", "data": PNG}}]


def test_a_long_end_user_id_reaches_openai_as_its_hash() -> None:
    user_id = '{"device_id":"' + "b" * 64 + '","account_uuid":"","session_id":"s"}'
    hub = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}

    assert openai_request_from_hub({**hub, "user": "u-7"})["user"] == "u-7"
    sent = openai_request_from_hub({**hub, "user": user_id})["user"]
    assert sent == hashlib.sha256(user_id.encode()).hexdigest()


# Dropped for the target


def openai_client_hub() -> JsonObject:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "parallel_tool_calls": False,
        "user": "u-7",
        "store": False,
        "service_tier": "flex",
        "prompt_cache_key": "k",
        "reasoning_effort": "low",
    }


@pytest.mark.parametrize(
    ("provider", "dropped"),
    [
        ("openai", []),
        ("anthropic", ["stream_options", "service_tier", "prompt_cache_key", "store"]),
        (
            "gemini",
            [
                "stream_options",
                "service_tier",
                "prompt_cache_key",
                "store",
                "user",
                "parallel_tool_calls",
            ],
        ),
    ],
)
def test_delivery_fields_the_target_lacks_are_dropped_and_named(
    provider: str, dropped: list[str]
) -> None:
    hub = openai_client_hub()

    assert drop_for_target(hub, "openai", provider) == dropped
    assert not set(dropped) & hub.keys()
    assert hub["reasoning_effort"] == "low"


def test_the_dropped_fields_go_by_the_clients_names() -> None:
    request = messages_request(
        metadata={"user_id": "u-7"},
        tools=[WEATHER_TOOL],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        context_management={"edits": []},
        output_config={"effort": "high"},
    )
    hub = anthropic_request_to_hub(request)

    assert drop_for_target(hub, "anthropic", "gemini", reasons=False) == [
        "context_management",
        "tools[].cache_control",
        "metadata.user_id",
        "tool_choice.disable_parallel_tool_use",
        "output_config.effort",
    ]
    assert DROPPED not in hub and "reasoning_effort" not in hub


STRING_SCHEMA: JsonObject = {"type": "object", "properties": {"name": {"type": "string"}}}
PATTERN_SCHEMA: JsonObject = {
    "type": "object",
    "properties": {"name": {"type": "string", "pattern": "^[A-Z]"}},
}


@pytest.mark.parametrize(
    ("client", "hub", "field"),
    [
        (
            "openai",
            {"response_format": {"type": "json_schema", "json_schema": {"schema": PATTERN_SCHEMA}}},
            "response_format.json_schema.schema",
        ),
        (
            "responses",
            {"response_format": {"type": "json_schema", "json_schema": {"schema": PATTERN_SCHEMA}}},
            "text.format.schema",
        ),
        (
            "gemini",
            gemini_request_to_hub(
                {
                    "contents": [{"parts": [{"text": "hi"}]}],
                    "generationConfig": {
                        "responseMimeType": "application/json",
                        "responseJsonSchema": PATTERN_SCHEMA,
                    },
                },
                model="claude-haiku-4-5",
                stream=False,
            ),
            "generationConfig.responseJsonSchema",
        ),
        (
            "gemini",
            gemini_request_to_hub(
                {
                    "contents": [{"parts": [{"text": "hi"}]}],
                    "generationConfig": {
                        "responseMimeType": "application/json",
                        "responseSchema": {
                            "type": "OBJECT",
                            "properties": {"name": {"type": "STRING", "pattern": "^[A-Z]"}},
                        },
                    },
                },
                model="claude-haiku-4-5",
                stream=False,
            ),
            "generationConfig.responseSchema",
        ),
    ],
)
def test_schema_keywords_anthropic_does_not_enforce_are_named_as_the_client_sent_them(
    client: str, hub: JsonObject, field: str
) -> None:
    hub = {**hub, "model": "claude-haiku-4-5"}
    other = {**hub, "model": "gemini-2.5-flash"}

    assert drop_for_target(hub, client, "anthropic") == [f"{field}.properties.name.pattern"]
    assert drop_for_target(other, client, "gemini") == []
    enforced = {"type": "json_schema", "json_schema": {"schema": STRING_SCHEMA}}
    assert drop_for_target({**hub, "response_format": enforced}, client, "anthropic") == []


@pytest.mark.parametrize("reasons", [True, None])
def test_a_model_that_reasons_or_is_unknown_keeps_its_effort(reasons: bool | None) -> None:
    hub = anthropic_request_to_hub(messages_request(output_config={"effort": "high"}))

    assert drop_for_target(hub, "anthropic", "openai", reasons=reasons) == []
    assert openai_request_from_hub(hub)["reasoning_effort"] == "high"


def test_gemini_refuses_every_answer_changing_field_at_once() -> None:
    hub = {**openai_client_hub(), "logprobs": True, "web_search_options": {}}
    drop_for_target(hub, "openai", "gemini")

    with pytest.raises(UnsupportedFeature) as refused:
        hub_request_to_gemini(hub)

    assert refused.value.features == ["logprobs", "web_search_options"]


def test_a_gemini_request_is_refused_naming_every_field_at_once() -> None:
    request = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "cachedContent": "cachedContents/abc",
        "tools": [{"googleSearch": {}}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        "generationConfig": {"topK": 40, "responseModalities": ["AUDIO"]},
    }

    with pytest.raises(UnsupportedFeature) as refused:
        gemini_request_to_hub(request, model="gpt-4o-mini", stream=False)

    assert refused.value.features == [
        "cachedContent",
        "tools[0].googleSearch",
        "generationConfig.topK",
        "generationConfig.responseModalities",
    ]
