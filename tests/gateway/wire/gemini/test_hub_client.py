"""Gemini translation: Gemini clients' requests into the hub."""

from __future__ import annotations

from typing import Any

import pytest

from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.anthropic.hub_upstream import hub_request_to_anthropic
from aisonar.gateway.wire.hub import DROPPED, JsonObject, UnsupportedFeature
from aisonar.gateway.wire.openai.upstream import openai_request_from_hub
from tests.gateway.wire.gemini.cases import (
    MODEL,
    PNG,
    WEATHER_SCHEMA,
    call,
    hub_call,
    model_turn,
    refused,
    result,
    to_hub,
    user,
)

# Gemini request -> hub


def test_contents_become_messages_with_the_system_instruction_first() -> None:
    hub = to_hub(
        {
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                user({"text": "Hi"}),
                model_turn({"text": "Hello"}, {"text": " there"}),
                {"parts": [{"text": "A"}, {"text": "B"}]},
            ],
        }
    )
    assert hub == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello there"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
            },
        ],
    }


def test_snake_case_field_names_are_read_like_camel_case() -> None:
    hub = to_hub(
        {
            "system_instruction": {"parts": [{"text": "S"}]},
            "contents": [user({"inline_data": {"mime_type": "image/png", "data": PNG}})],
            "generation_config": {"max_output_tokens": 5, "stop_sequences": ["x"]},
        }
    )
    assert hub["messages"][0] == {"role": "system", "content": "S"}
    image = hub["messages"][1]["content"][0]
    assert image["image_url"]["url"] == f"data:image/png;base64,{PNG}"
    assert hub["max_tokens"] == 5
    assert hub["stop"] == ["x"]


def test_images_inline_and_linked_become_image_urls() -> None:
    url = "https://example.com/cat.jpg"
    hub = to_hub(
        {
            "contents": [
                user(
                    {"text": "Compare"},
                    {"inlineData": {"mimeType": "image/png", "data": PNG}},
                    {"fileData": {"mimeType": "image/jpeg", "fileUri": url}},
                )
            ]
        }
    )
    assert hub["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": url}},
    ]


@pytest.mark.parametrize(
    ("part", "param"),
    [
        ({"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}}, "inlineData"),
        ({"inlineData": {"mimeType": "audio/wav", "data": "UklG"}}, "inlineData"),
        ({"fileData": {"mimeType": "video/mp4", "fileUri": "https://x.test/a.mp4"}}, "fileData"),
        ({"fileData": {"mimeType": "image/png", "fileUri": "gs://b/a.png"}}, "fileData.fileUri"),
        (
            {
                "fileData": {
                    "mimeType": "image/png",
                    "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc",
                }
            },
            "fileData.fileUri",
        ),
        ({"executableCode": {"language": "PYTHON", "code": "1"}}, "executableCode"),
        ({"text": "x", "videoMetadata": {"fps": 1}}, "videoMetadata"),
    ],
)
def test_parts_other_upstreams_cannot_read_are_refused(part: JsonObject, param: str) -> None:
    with pytest.raises(UnsupportedFeature) as error:
        to_hub({"contents": [user(part)]})
    assert refused(error) == f"contents[0].parts[0].{param}"


def test_function_calls_get_ids_that_their_responses_find_by_name_in_order() -> None:
    hub = to_hub(
        {
            "contents": [
                user({"text": "Weather in Paris and Rome, and the time?"}),
                model_turn(
                    call("weather", {"city": "Paris"}),
                    call("weather", {"city": "Rome"}),
                    call("clock", {}),
                ),
                user(
                    result("clock", {"time": "noon"}),
                    result("weather", {"temp": 20}),
                    result("weather", {"temp": 25}),
                    {"text": "Thanks"},
                ),
            ]
        }
    )
    assert hub["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            hub_call("call_1", "weather", '{"city":"Paris"}'),
            hub_call("call_2", "weather", '{"city":"Rome"}'),
            hub_call("call_3", "clock", "{}"),
        ],
    }
    assert hub["messages"][2:] == [
        {"role": "tool", "tool_call_id": "call_3", "content": '{"time":"noon"}'},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp":20}'},
        {"role": "tool", "tool_call_id": "call_2", "content": '{"temp":25}'},
        {"role": "user", "content": "Thanks"},
    ]


def test_function_call_ids_are_kept_and_matched() -> None:
    hub = to_hub(
        {
            "contents": [
                user({"text": "Go"}),
                model_turn(call("f", {}, "a1"), call("f", {}, "a2")),
                user(result("f", {"n": 2}, "a2"), result("f", {"n": 1}, "a1")),
            ]
        }
    )
    assert [c["id"] for c in hub["messages"][1]["tool_calls"]] == ["a1", "a2"]
    assert [(m["tool_call_id"], m["content"]) for m in hub["messages"][2:]] == [
        ("a2", '{"n":2}'),
        ("a1", '{"n":1}'),
    ]


def screenshot_turns(*parts: JsonObject) -> list[JsonObject]:
    """A call of `screenshot` and its multimodal response, whose `parts` are `parts`."""
    response = {
        "functionResponse": {
            "id": "s1",
            "name": "screenshot",
            "response": {"image": {"$ref": "screen.png"}},
            "parts": list(parts),
        }
    }
    return [
        user({"text": "What is on screen?"}),
        model_turn(call("screenshot", {}, "s1")),
        user(response),
    ]


INLINE_SCREEN = {"inlineData": {"mimeType": "image/png", "data": PNG, "displayName": "screen.png"}}
LINKED_SCREEN = {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/s.jpg"}}


def test_a_function_responses_images_follow_its_json_in_the_tool_message() -> None:
    hub = to_hub({"contents": screenshot_turns(INLINE_SCREEN, LINKED_SCREEN)})

    assert hub["messages"][2] == {
        "role": "tool",
        "tool_call_id": "s1",
        "content": [
            {"type": "text", "text": '{"image":{"$ref":"screen.png"}}'},
            {"type": "text", "text": "screen.png"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/s.jpg"}},
        ],
    }


def test_a_function_responses_images_reach_anthropic_in_its_tool_result() -> None:
    hub = to_hub({"contents": screenshot_turns(INLINE_SCREEN, LINKED_SCREEN)})

    [result_block] = hub_request_to_anthropic({**hub, "max_tokens": 64})["messages"][2]["content"]
    assert result_block == {
        "type": "tool_result",
        "tool_use_id": "s1",
        "content": [
            {"type": "text", "text": '{"image":{"$ref":"screen.png"}}'},
            {"type": "text", "text": "screen.png"},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG},
            },
            {"type": "image", "source": {"type": "url", "url": "https://example.com/s.jpg"}},
        ],
    }


def test_a_function_responses_images_reach_openai_after_its_tool_message() -> None:
    hub = to_hub({"contents": screenshot_turns(INLINE_SCREEN)})

    assert openai_request_from_hub(hub)["messages"][2:] == [
        {
            "role": "tool",
            "tool_call_id": "s1",
            "content": [
                {"type": "text", "text": '{"image":{"$ref":"screen.png"}}'},
                {"type": "text", "text": "screen.png"},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
            ],
        },
    ]


@pytest.mark.parametrize(
    ("part", "param"),
    [
        # Images only, as in a user turn.
        ({"inlineData": {"mimeType": "audio/wav", "data": PNG}}, "parts[0].inlineData"),
        # Files API uploads cannot be read by other providers.
        (
            {
                "fileData": {
                    "mimeType": "image/png",
                    "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/x",
                }
            },
            "parts[0].fileData.fileUri",
        ),
        ({"mediaResolution": {"level": "MEDIA_RESOLUTION_HIGH"}}, "parts[0].mediaResolution"),
    ],
)
def test_what_a_function_responses_parts_cannot_carry_is_refused(
    part: JsonObject, param: str
) -> None:
    with pytest.raises(UnsupportedFeature) as error:
        to_hub({"contents": screenshot_turns(part)})
    assert refused(error) == f"contents[2].parts[0].functionResponse.{param}"


def test_an_empty_function_response_part_is_invalid() -> None:
    with pytest.raises(InvalidRequest) as error:
        to_hub({"contents": screenshot_turns({})})
    assert error.value.param == "contents[2].parts[0].functionResponse.parts[0]"
    assert not isinstance(error.value, UnsupportedFeature)


def test_a_function_response_without_its_call_is_invalid() -> None:
    with pytest.raises(InvalidRequest) as error:
        to_hub({"contents": [user(result("weather", {"temp": 1}))]})
    assert error.value.param == "contents[0].parts[0].functionResponse"
    assert not isinstance(error.value, UnsupportedFeature)


def test_thoughts_and_signatures_in_history_are_dropped() -> None:
    hub = to_hub(
        {
            "contents": [
                user({"text": "Q"}),
                model_turn(
                    {"text": "Let me think", "thought": True, "thoughtSignature": "c2ln"},
                    {**call("f", {}), "thoughtSignature": "c2ln"},
                    {"text": "Answer"},
                ),
            ]
        }
    )
    assert hub["messages"][1] == {
        "role": "assistant",
        "content": "Answer",
        "tool_calls": [hub_call("call_1", "f", "{}")],
    }


def test_openapi_schemas_become_json_schema() -> None:
    hub = to_hub(
        {
            "contents": [user({"text": "x"})],
            "tools": [
                {
                    "functionDeclarations": [
                        {
                            "name": "search",
                            "description": "Search things",
                            "parameters": {
                                "type": "OBJECT",
                                "properties": {
                                    "query": {"type": "STRING", "description": "Words"},
                                    "tags": {
                                        "type": "ARRAY",
                                        "items": {"type": "STRING", "enum": ["a", "b"]},
                                        "max_items": "3",
                                    },
                                    "limit": {"type": "INTEGER", "nullable": True},
                                },
                                "required": ["query"],
                                "propertyOrdering": ["query", "tags", "limit"],
                            },
                        },
                        {"name": "noop"},
                    ]
                }
            ],
        }
    )
    assert hub["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "search",
                "description": "Search things",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "description": "Words"},
                        "tags": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["a", "b"]},
                            "maxItems": 3,
                        },
                        "limit": {"type": ["integer", "null"]},
                    },
                    "required": ["query"],
                },
            },
        },
        {"type": "function", "function": {"name": "noop"}},
    ]


def test_json_schema_parameters_pass_as_they_are() -> None:
    schema = {"type": "object", "properties": {"max_items": {"type": "integer"}}}
    hub = to_hub(
        {
            "contents": [user({"text": "x"})],
            "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": schema}]}],
        }
    )
    assert hub["tools"][0]["function"]["parameters"] == schema


def declarations(*names: str) -> list[JsonObject]:
    return [{"functionDeclarations": [{"name": name} for name in names]}]


@pytest.mark.parametrize(
    ("calling", "tool_choice", "tools_left"),
    [
        ({"mode": "AUTO"}, "auto", ["a", "b", "c"]),
        ({"mode": "NONE"}, "none", ["a", "b", "c"]),
        ({"mode": "ANY"}, "required", ["a", "b", "c"]),
        (
            {"mode": "ANY", "allowedFunctionNames": ["b"]},
            {"type": "function", "function": {"name": "b"}},
            ["a", "b", "c"],
        ),
        ({"mode": "ANY", "allowedFunctionNames": ["a", "c"]}, "required", ["a", "c"]),
        ({"mode": "VALIDATED"}, "auto", ["a", "b", "c"]),
        ({"mode": "VALIDATED", "allowedFunctionNames": ["b"]}, "auto", ["b"]),
    ],
)
def test_tool_config_becomes_tool_choice(
    calling: JsonObject, tool_choice: Any, tools_left: list[str]
) -> None:
    hub = to_hub(
        {
            "contents": [user({"text": "x"})],
            "tools": declarations("a", "b", "c"),
            "toolConfig": {"functionCallingConfig": calling},
        }
    )
    assert hub["tool_choice"] == tool_choice
    assert [tool["function"]["name"] for tool in hub["tools"]] == tools_left


@pytest.mark.parametrize(
    "calling",
    [
        {"mode": "ANY", "allowedFunctionNames": ["missing"]},
        {"mode": "AUTO", "allowedFunctionNames": ["a"]},
    ],
)
def test_tool_config_naming_functions_wrongly_is_invalid(calling: JsonObject) -> None:
    with pytest.raises(InvalidRequest) as error:
        to_hub(
            {
                "contents": [user({"text": "x"})],
                "tools": declarations("a"),
                "toolConfig": {"functionCallingConfig": calling},
            }
        )
    assert error.value.param == "toolConfig.functionCallingConfig.allowedFunctionNames"


def test_generation_config_maps_to_openai_parameters() -> None:
    hub = to_hub(
        {
            "contents": [user({"text": "x"})],
            "generationConfig": {
                "temperature": 0.5,
                "topP": 0.9,
                "maxOutputTokens": 100,
                "stopSequences": ["END"],
                "candidateCount": 2,
                "presencePenalty": 0.1,
                "frequencyPenalty": 0.2,
                "seed": 7,
                "responseModalities": ["TEXT"],
                "thinkingConfig": {"thinkingBudget": 512, "includeThoughts": True},
            },
        }
    )
    assert {name: value for name, value in hub.items() if name not in ("model", "messages")} == {
        "temperature": 0.5,
        "top_p": 0.9,
        "max_tokens": 100,
        "stop": ["END"],
        "n": 2,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "seed": 7,
        "thinking_budget": 512,
    }


def test_one_candidate_sends_no_n() -> None:
    assert "n" not in to_hub(
        {"contents": [user({"text": "x"})], "generationConfig": {"candidateCount": 1}}
    )


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        ({"thinkingBudget": 0}, {"thinking_budget": 0}),
        ({"thinkingBudget": -1, "includeThoughts": True}, {}),
        ({"thinkingLevel": "HIGH"}, {"reasoning_effort": "high"}),
    ],
)
def test_thinking_config(thinking: JsonObject, expected: JsonObject) -> None:
    hub = to_hub(
        {"contents": [user({"text": "x"})], "generationConfig": {"thinkingConfig": thinking}}
    )
    assert {k: v for k, v in hub.items() if k not in ("model", "messages")} == expected


@pytest.mark.parametrize(
    ("config", "response_format"),
    [
        ({"responseMimeType": "application/json"}, {"type": "json_object"}),
        (
            {"responseMimeType": "application/json", "responseJsonSchema": WEATHER_SCHEMA},
            {
                "type": "json_schema",
                "json_schema": {"name": "responseJsonSchema", "schema": WEATHER_SCHEMA},
            },
        ),
        (
            {
                "responseMimeType": "application/json",
                "responseSchema": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
            },
            {
                "type": "json_schema",
                "json_schema": {"name": "responseSchema", "schema": WEATHER_SCHEMA},
            },
        ),
    ],
)
def test_json_answers_become_a_response_format(
    config: JsonObject, response_format: JsonObject
) -> None:
    hub = to_hub({"contents": [user({"text": "x"})], "generationConfig": config})
    assert hub["response_format"] == response_format


def test_streaming_is_asked_for_and_every_outbound_asks_for_its_usage() -> None:
    hub = to_hub({"contents": [user({"text": "x"})]}, stream=True)
    assert hub["stream"] is True
    assert "stream_options" not in hub
    assert "stream" not in to_hub({"contents": [user({"text": "x"})]})


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"cachedContent": "cachedContents/abc"}, "cachedContent"),
        ({"generationConfig": {"topK": 40}}, "generationConfig.topK"),
        (
            {"generationConfig": {"responseModalities": ["AUDIO"]}},
            "generationConfig.responseModalities",
        ),
        ({"generationConfig": {"speechConfig": {}}}, "generationConfig.speechConfig"),
        ({"generationConfig": {"responseLogprobs": True}}, "generationConfig.responseLogprobs"),
        (
            {"generationConfig": {"responseMimeType": "text/x.enum"}},
            "generationConfig.responseMimeType",
        ),
        ({"tools": [{"googleSearch": {}}]}, "tools[0].googleSearch"),
        ({"tools": [{"codeExecution": {}}]}, "tools[0].codeExecution"),
        ({"tools": [{"url_context": {}}]}, "tools[0].urlContext"),
        (
            {"tools": [{"functionDeclarations": [{"name": "f", "behavior": "NON_BLOCKING"}]}]},
            "tools[0].functionDeclarations[0].behavior",
        ),
        (
            {
                "safetySettings": [
                    {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_LOW_AND_ABOVE"}
                ]
            },
            "safetySettings[0].threshold",
        ),
        ({"serviceTier": "flex"}, "serviceTier"),
    ],
)
def test_gemini_only_features_are_refused_by_name(extra: JsonObject, param: str) -> None:
    with pytest.raises(UnsupportedFeature) as error:
        to_hub({"contents": [user({"text": "x"})], "tools": declarations("f"), **extra})
    assert refused(error) == param
    assert param in error.value.message


def test_settings_that_only_lift_gemini_filters_are_accepted_and_labels_dropped() -> None:
    hub = to_hub(
        {
            "contents": [user({"text": "x"})],
            "safetySettings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"},
                {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"},
            ],
            "labels": {"team": "a"},
            "model": "ignored",
        }
    )
    assert hub == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "x"}],
        DROPPED: ["labels"],
    }


@pytest.mark.parametrize(
    "doc",
    [{}, {"contents": []}, {"contents": [{"role": "system", "parts": [{"text": "x"}]}]}],
)
def test_malformed_contents_are_invalid(doc: JsonObject) -> None:
    with pytest.raises(InvalidRequest):
        to_hub(doc)
