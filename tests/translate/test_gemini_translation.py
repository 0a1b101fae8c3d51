"""Gemini generateContent <-> hub translation: requests, answers and streams, both ways."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from google.genai import types
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from aisonar.gateway.errors import InvalidRequest, UnreadableUpstream, UpstreamUnavailable
from aisonar.gateway.formats.usage import TokenUsage
from aisonar.gateway.translate.gemini_inbound import (
    HubToGeminiStream,
    gemini_request_to_hub,
    hub_response_to_gemini,
)
from aisonar.gateway.translate.gemini_outbound import (
    GeminiStreamToHub,
    UpstreamStreamError,
    gemini_response_to_hub,
    hub_request_to_gemini,
)
from aisonar.gateway.translate.hub import JsonObject, UnsupportedFeature, hub_usage

MODEL = "gemini-2.5-flash"
PNG = "iVBORw0KGgo="
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def to_hub(doc: JsonObject, *, stream: bool = False) -> JsonObject:
    return gemini_request_to_hub(doc, model=MODEL, stream=stream)


def user(*parts: JsonObject) -> JsonObject:
    return {"role": "user", "parts": list(parts)}


def model_turn(*parts: JsonObject) -> JsonObject:
    return {"role": "model", "parts": list(parts)}


def call(name: str, args: JsonObject, call_id: str | None = None) -> JsonObject:
    function_call: JsonObject = {"name": name, "args": args}
    if call_id is not None:
        function_call["id"] = call_id
    return {"functionCall": function_call}


def result(name: str, response: JsonObject, call_id: str | None = None) -> JsonObject:
    function_response: JsonObject = {"name": name, "response": response}
    if call_id is not None:
        function_response["id"] = call_id
    return {"functionResponse": function_response}


def hub_call(call_id: str, name: str, arguments: str) -> JsonObject:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def weather_tool() -> JsonObject:
    return {"type": "function", "function": {"name": "weather", "parameters": WEATHER_SCHEMA}}


def refused(error: pytest.ExceptionInfo[UnsupportedFeature]) -> str | None:
    return error.value.param


def validate_gemini_request(body: JsonObject) -> None:
    """The parts of a generateContent body the SDK has models for (they forbid extras)."""
    for content in body["contents"]:
        types.Content.model_validate(content)
    if "systemInstruction" in body:
        types.Content.model_validate(body["systemInstruction"])
    for tool in body.get("tools", []):
        types.Tool.model_validate(tool)
    if "toolConfig" in body:
        types.ToolConfig.model_validate(body["toolConfig"])
    if "generationConfig" in body:
        types.GenerationConfig.model_validate(body["generationConfig"])
    assert set(body) <= {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}


def sse_documents(stream: bytes) -> list[JsonObject]:
    events = stream.split(b"\r\n\r\n")
    assert events[-1] == b"", "every event ends with a blank line"
    documents = []
    for event in events[:-1]:
        assert event.startswith(b"data: ")
        document = orjson.loads(event.removeprefix(b"data: "))
        types.GenerateContentResponse.model_validate(document)
        documents.append(document)
    return documents


def sse(document: JsonObject) -> bytes:
    return b"data: " + orjson.dumps(document) + b"\r\n\r\n"


def hub_delta(delta: JsonObject, finish_reason: str | None = None, index: int = 0) -> JsonObject:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish_reason}],
    }


def hub_usage_chunk(usage: TokenUsage) -> JsonObject:
    return {**hub_delta({}), "choices": [], "usage": hub_usage(usage)}


def read_all(reader: GeminiStreamToHub, events: list[JsonObject]) -> list[JsonObject]:
    chunks = [chunk for event in events for chunk in reader.feed(sse(event))]
    chunks.extend(reader.finish())
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    return chunks


def deltas(chunks: list[JsonObject], name: str) -> list[Any]:
    return [
        choice["delta"][name]
        for chunk in chunks
        for choice in chunk["choices"]
        if name in choice["delta"]
    ]


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
            {"type": "json_schema", "json_schema": {"name": "response", "schema": WEATHER_SCHEMA}},
        ),
        (
            {
                "responseMimeType": "application/json",
                "responseSchema": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
            },
            {"type": "json_schema", "json_schema": {"name": "response", "schema": WEATHER_SCHEMA}},
        ),
    ],
)
def test_json_answers_become_a_response_format(
    config: JsonObject, response_format: JsonObject
) -> None:
    hub = to_hub({"contents": [user({"text": "x"})], "generationConfig": config})
    assert hub["response_format"] == response_format


def test_streaming_asks_for_usage() -> None:
    hub = to_hub({"contents": [user({"text": "x"})]}, stream=True)
    assert hub["stream"] is True
    assert hub["stream_options"] == {"include_usage": True}
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
            {"toolConfig": {"functionCallingConfig": {"mode": "VALIDATED"}}},
            "toolConfig.functionCallingConfig.mode",
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


def test_settings_that_only_lift_gemini_filters_and_labels_are_accepted() -> None:
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
    assert hub == {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}


@pytest.mark.parametrize(
    "doc",
    [{}, {"contents": []}, {"contents": [{"role": "system", "parts": [{"text": "x"}]}]}],
)
def test_malformed_contents_are_invalid(doc: JsonObject) -> None:
    with pytest.raises(InvalidRequest):
        to_hub(doc)


# Hub answer -> Gemini


def hub_answer(message: JsonObject, finish_reason: str = "stop") -> JsonObject:
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "created": 1,
        "model": "upstream-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "finish_reason": finish_reason,
            }
        ],
        "usage": hub_usage(
            TokenUsage(input_tokens=10, cached_input_tokens=4, output_tokens=7, reasoning_tokens=3)
        ),
    }


def test_a_hub_answer_becomes_a_generate_content_response() -> None:
    message = {
        "content": "Let me check.",
        "reasoning_content": "Thinking...",
        "tool_calls": [hub_call("call_a", "weather", '{"city":"Paris"}')],
    }
    response = hub_response_to_gemini(hub_answer(message, "tool_calls"), MODEL)
    types.GenerateContentResponse.model_validate(response)
    assert response == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Thinking...", "thought": True},
                        {"text": "Let me check."},
                        {
                            "functionCall": {
                                "id": "call_a",
                                "name": "weather",
                                "args": {"city": "Paris"},
                            }
                        },
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 4,
            "totalTokenCount": 17,
            "cachedContentTokenCount": 4,
            "thoughtsTokenCount": 3,
        },
        "modelVersion": MODEL,
        "responseId": "chatcmpl-9",
    }


@pytest.mark.parametrize(
    ("finish_reason", "gemini_reason"),
    [("stop", "STOP"), ("length", "MAX_TOKENS"), ("content_filter", "SAFETY"), ("odd", "OTHER")],
)
def test_finish_reasons_map_to_gemini(finish_reason: str, gemini_reason: str) -> None:
    response = hub_response_to_gemini(hub_answer({"content": "x"}, finish_reason), MODEL)
    assert response["candidates"][0]["finishReason"] == gemini_reason


def test_malformed_tool_arguments_of_an_upstream_are_unreadable() -> None:
    answer = hub_answer({"content": None, "tool_calls": [hub_call("c", "f", "{oops")]})
    with pytest.raises(UnreadableUpstream):
        hub_response_to_gemini(answer, MODEL)


# Hub stream -> Gemini stream


def test_hub_stream_text_goes_out_as_it_comes_and_usage_last() -> None:
    writer = HubToGeminiStream(MODEL)
    usage = TokenUsage(input_tokens=5, output_tokens=2)
    out = [
        writer.feed(hub_delta({"role": "assistant", "content": ""})),
        writer.feed(hub_delta({"content": "Hel"})),
        writer.feed(hub_delta({"content": "lo"})),
        writer.feed(hub_delta({}, "stop")),
        writer.feed(hub_usage_chunk(usage)),
        writer.finish(),
    ]
    assert out[0] == b""
    assert [doc["candidates"][0]["content"]["parts"] for doc in sse_documents(out[1] + out[2])] == [
        [{"text": "Hel"}],
        [{"text": "lo"}],
    ]
    assert out[3] == b"" and out[5] == b""
    (last,) = sse_documents(out[4])
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"] == {
        "promptTokenCount": 5,
        "candidatesTokenCount": 2,
        "totalTokenCount": 7,
    }
    assert last["responseId"] == "chatcmpl-1"
    assert last["modelVersion"] == MODEL


def test_hub_stream_tool_calls_go_out_whole_once_finished() -> None:
    writer = HubToGeminiStream(MODEL)
    pieces = [
        {
            "index": 0,
            "id": "call_a",
            "type": "function",
            "function": {"name": "weather", "arguments": ""},
        },
        {
            "index": 1,
            "id": "call_b",
            "type": "function",
            "function": {"name": "clock", "arguments": "{}"},
        },
        {"index": 0, "function": {"arguments": '{"city":'}},
        {"index": 0, "function": {"arguments": '"Paris"}'}},
    ]
    assert all(writer.feed(hub_delta({"tool_calls": [piece]})) == b"" for piece in pieces)
    (calls,) = sse_documents(writer.feed(hub_delta({}, "tool_calls")))
    assert calls["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "call_a", "name": "weather", "args": {"city": "Paris"}}},
        {"functionCall": {"id": "call_b", "name": "clock", "args": {}}},
    ]
    (last,) = sse_documents(writer.finish())
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert "usageMetadata" not in last


def test_hub_stream_thoughts_are_thought_parts() -> None:
    writer = HubToGeminiStream(MODEL)
    (doc,) = sse_documents(writer.feed(hub_delta({"reasoning_content": "Hmm"})))
    assert doc["candidates"][0]["content"]["parts"] == [{"text": "Hmm", "thought": True}]


def test_a_hub_stream_cut_short_still_delivers_its_calls_and_nothing_twice() -> None:
    writer = HubToGeminiStream(MODEL)
    piece = {
        "index": 0,
        "id": "c",
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    writer.feed(hub_delta({"tool_calls": [piece]}))
    (calls,) = sse_documents(writer.finish())
    assert calls["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "c", "name": "f", "args": {}}}
    ]
    assert "finishReason" not in calls["candidates"][0]
    assert writer.finish() == b""
    assert writer.feed(hub_delta({"content": "late"})) == b""
    assert HubToGeminiStream(MODEL).finish() == b""


def test_hub_stream_choices_keep_their_index() -> None:
    writer = HubToGeminiStream(MODEL)
    (doc,) = sse_documents(writer.feed(hub_delta({"content": "b"}, index=1)))
    assert doc["candidates"][0]["index"] == 1
    writer.feed(hub_delta({}, "stop", index=1))
    writer.feed(hub_delta({}, "length", index=0))
    (last,) = sse_documents(writer.feed(hub_usage_chunk(TokenUsage())))
    assert [(c["index"], c["finishReason"]) for c in last["candidates"]] == [
        (0, "MAX_TOKENS"),
        (1, "STOP"),
    ]


# Hub request -> Gemini


def to_gemini(messages: list[JsonObject], **params: Any) -> JsonObject:
    body = hub_request_to_gemini({"model": "gemini-2.5-pro", "messages": messages, **params})
    validate_gemini_request(body)
    return body


def test_system_messages_become_the_system_instruction_and_turns_merge() -> None:
    body = to_gemini(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": [{"type": "text", "text": "Again"}]},
            {"role": "assistant", "content": "Salut"},
        ]
    )
    assert body == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}, {"text": "Again"}]},
            {"role": "model", "parts": [{"text": "Salut"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Use French."}]},
    }


def test_tool_results_become_function_responses_named_after_their_calls() -> None:
    body = to_gemini(
        [
            {"role": "user", "content": "Weather and time?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    hub_call("c1", "weather", '{"city":"Paris"}'),
                    hub_call("c2", "clock", ""),
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 20}'},
            {"role": "tool", "tool_call_id": "c2", "content": "noon"},
            {"role": "user", "content": "Thanks"},
        ]
    )
    assert body["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"id": "c1", "name": "weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "skip_thought_signature_validator",
                },
                {"functionCall": {"id": "c2", "name": "clock", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"id": "c1", "name": "weather", "response": {"temp": 20}}},
                {"functionResponse": {"id": "c2", "name": "clock", "response": {"output": "noon"}}},
                {"text": "Thanks"},
            ],
        },
    ]


def test_a_tool_result_without_its_call_is_invalid() -> None:
    with pytest.raises(InvalidRequest) as error:
        to_gemini([{"role": "tool", "tool_call_id": "nope", "content": "x"}])
    assert error.value.param == "messages"


@pytest.mark.parametrize("arguments", ["{oops", "[1]"])
def test_tool_call_arguments_must_be_a_json_object(arguments: str) -> None:
    messages = [{"role": "assistant", "tool_calls": [hub_call("c", "f", arguments)]}]
    with pytest.raises(InvalidRequest) as error:
        to_gemini(messages)
    assert error.value.param == "messages[0].tool_calls[0].function.arguments"


def image(url: str) -> JsonObject:
    return {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": url, "detail": "low"}}],
    }


def test_images_become_inline_data_or_file_data() -> None:
    body = to_gemini([image(f"data:image/png;base64,{PNG}"), image("https://x.test/a/cat.JPG?s=1")])
    assert body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/a/cat.JPG?s=1"}},
    ]


def test_an_image_url_of_unknown_type_is_refused() -> None:
    with pytest.raises(UnsupportedFeature) as error:
        to_gemini([image("https://x.test/picture")])
    assert refused(error) == "messages[0].content[0].image_url.url"


def test_tools_become_one_function_declaration_list() -> None:
    tools = [weather_tool(), {"type": "function", "function": {"name": "noop", "strict": True}}]
    body = to_gemini([{"role": "user", "content": "x"}], tools=tools)
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {"name": "weather", "parametersJsonSchema": WEATHER_SCHEMA},
                {"name": "noop"},
            ]
        }
    ]


@pytest.mark.parametrize(
    ("tool_choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["weather"]},
        ),
    ],
)
def test_tool_choice_becomes_a_function_calling_config(
    tool_choice: Any, config: JsonObject
) -> None:
    body = to_gemini(
        [{"role": "user", "content": "x"}], tools=[weather_tool()], tool_choice=tool_choice
    )
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_sampling_parameters_become_the_generation_config() -> None:
    body = to_gemini(
        [{"role": "user", "content": "x"}],
        temperature=0.2,
        top_p=0.8,
        max_tokens=50,
        max_completion_tokens=60,
        n=2,
        stop="END",
        seed=3,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "w", "schema": WEATHER_SCHEMA},
        },
        reasoning_effort="low",
    )
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.8,
        "candidateCount": 2,
        "seed": 3,
        "presencePenalty": 0.5,
        "frequencyPenalty": 0.25,
        "maxOutputTokens": 60,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseJsonSchema": WEATHER_SCHEMA,
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
    }


@pytest.mark.parametrize(
    ("params", "config"),
    [
        ({"response_format": {"type": "json_object"}}, {"responseMimeType": "application/json"}),
        ({"response_format": {"type": "text"}}, None),
        (
            {"thinking_budget": 2048, "reasoning_effort": "high"},
            {"thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True}},
        ),
        (
            {"reasoning_effort": "high"},
            {"thinkingConfig": {"thinkingBudget": 16384, "includeThoughts": True}},
        ),
        (
            {"stop": ["a", "b"], "max_tokens": 9},
            {"stopSequences": ["a", "b"], "maxOutputTokens": 9},
        ),
    ],
)
def test_generation_config_variants(params: JsonObject, config: JsonObject | None) -> None:
    body = to_gemini([{"role": "user", "content": "x"}], **params)
    assert body.get("generationConfig") == config


def test_bookkeeping_parameters_and_defaults_are_ignored() -> None:
    body = to_gemini(
        [{"role": "user", "content": "x", "name": None}],
        stream=True,
        stream_options={"include_usage": True},
        user="u1",
        store=False,
        metadata={"a": "b"},
        logprobs=False,
        parallel_tool_calls=True,
        modalities=["text"],
        logit_bias={},
        temperature=None,
    )
    assert body == {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"reasoning_effort": "minimal"}, "reasoning_effort"),
        ({"response_format": {"type": "grammar"}}, "response_format"),
        ({"tool_choice": {"type": "custom", "custom": {"name": "x"}}}, "tool_choice"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
    ],
)
def test_parameters_gemini_cannot_express_are_refused(params: JsonObject, param: str) -> None:
    with pytest.raises(UnsupportedFeature) as error:
        to_gemini([{"role": "user", "content": "x"}], **params)
    assert refused(error) == param


@pytest.mark.parametrize(
    ("message", "param"),
    [
        (
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x"}}]},
            "messages[0].content[0].input_audio",
        ),
        (
            {"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]},
            "messages[0].content[0].file",
        ),
        ({"role": "user", "content": "x", "name": "bob"}, "messages[0].name"),
        ({"role": "function", "content": "x"}, "messages[0].role"),
        (
            {"role": "system", "content": [image("https://x.test/a.png")["content"][0]]},
            "messages[0].content[0]",
        ),
    ],
)
def test_message_content_gemini_cannot_express_is_refused(message: JsonObject, param: str) -> None:
    with pytest.raises(UnsupportedFeature) as error:
        to_gemini([message])
    assert refused(error) == param


def test_a_gemini_request_survives_the_round_trip_through_the_hub() -> None:
    image_part = {"inlineData": {"mimeType": "image/png", "data": PNG}}
    link = {"fileData": {"mimeType": "image/webp", "fileUri": "https://x.test/a.webp"}}
    weather_call = call("weather", {"city": "Paris"}, "w1")
    answer = user(result("weather", {"temp": 20}, "w1"))
    doc: JsonObject = {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            user({"text": "What is this, and the weather?"}, image_part, link),
            model_turn(weather_call),
            answer,
            model_turn({"text": "A cat; 20 degrees."}),
        ],
        "tools": [
            {"functionDeclarations": [{"name": "weather", "parametersJsonSchema": WEATHER_SCHEMA}]}
        ],
        "toolConfig": {
            "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}
        },
        "generationConfig": {"temperature": 0.3, "maxOutputTokens": 64, "stopSequences": ["x"]},
    }
    back = hub_request_to_gemini(to_hub(doc))
    validate_gemini_request(back)
    signed = {**weather_call, "thoughtSignature": "skip_thought_signature_validator"}
    contents = doc["contents"]
    assert back == {**doc, "contents": [contents[0], model_turn(signed), *contents[2:]]}


# Gemini answer -> hub


def gemini_answer(*candidates: JsonObject, **extra: Any) -> JsonObject:
    usage = {
        "promptTokenCount": 12,
        "candidatesTokenCount": 5,
        "thoughtsTokenCount": 4,
        "cachedContentTokenCount": 2,
        "totalTokenCount": 21,
    }
    return {
        "candidates": list(candidates),
        "usageMetadata": usage,
        "modelVersion": "gemini-2.5-flash-001",
        "responseId": "resp-1",
        **extra,
    }


def candidate(parts: list[JsonObject], finish_reason: str = "STOP", index: int = 0) -> JsonObject:
    return {
        "content": {"role": "model", "parts": parts},
        "finishReason": finish_reason,
        "index": index,
    }


def test_a_gemini_answer_becomes_a_chat_completion() -> None:
    doc = gemini_answer(
        candidate(
            [
                {"text": "Pondering", "thought": True},
                {"text": "It is "},
                {"text": "sunny.", "thoughtSignature": "c2ln"},
            ]
        )
    )
    types.GenerateContentResponse.model_validate(doc)
    hub = gemini_response_to_hub(doc, model=MODEL)
    ChatCompletion.model_validate(hub)
    assert hub["id"] == "resp-1"
    assert hub["model"] == MODEL
    assert hub["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "It is sunny.",
                "reasoning_content": "Pondering",
            },
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    assert hub["usage"] == hub_usage(
        TokenUsage(input_tokens=12, cached_input_tokens=2, output_tokens=9, reasoning_tokens=4)
    )


def test_function_calls_become_tool_calls_with_unique_ids() -> None:
    doc = gemini_answer(
        candidate(
            [
                call("weather", {"city": "Paris"}),
                call("weather", {"city": "Rome"}),
                call("f", {}, "own"),
            ]
        )
    )
    hub = gemini_response_to_hub(doc, model=MODEL)
    ChatCompletion.model_validate(hub)
    (choice,) = hub["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [c["function"] for c in calls] == [
        {"name": "weather", "arguments": '{"city":"Paris"}'},
        {"name": "weather", "arguments": '{"city":"Rome"}'},
        {"name": "f", "arguments": "{}"},
    ]
    assert calls[2]["id"] == "own"
    generated = [calls[0]["id"], calls[1]["id"]]
    assert all(i.startswith("call_") for i in generated) and generated[0] != generated[1]


@pytest.mark.parametrize(
    ("reason", "finish_reason"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("OTHER", "stop"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
    ],
)
def test_gemini_finish_reasons_map_to_the_hub(reason: str, finish_reason: str) -> None:
    hub = gemini_response_to_hub(gemini_answer(candidate([{"text": "x"}], reason)), model=MODEL)
    assert hub["choices"][0]["finish_reason"] == finish_reason


def test_each_candidate_is_a_choice() -> None:
    doc = gemini_answer(
        candidate([{"text": "a"}], index=0), candidate([{"text": "b"}], "MAX_TOKENS", 1)
    )
    hub = gemini_response_to_hub(doc, model=MODEL)
    ChatCompletion.model_validate(hub)
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in hub["choices"]] == [
        (0, "a", "stop"),
        (1, "b", "length"),
    ]


def test_a_blocked_prompt_is_a_filtered_choice() -> None:
    doc = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}
    hub = gemini_response_to_hub(doc, model=MODEL)
    ChatCompletion.model_validate(hub)
    assert hub["choices"][0]["finish_reason"] == "content_filter"
    assert hub["choices"][0]["message"]["content"] is None
    assert hub["usage"]["prompt_tokens"] == 3


def test_an_answer_without_usage_reports_none() -> None:
    doc = gemini_answer(candidate([{"text": "x"}]))
    del doc["usageMetadata"]
    assert "usage" not in gemini_response_to_hub(doc, model=MODEL)


# Gemini stream -> hub stream


def stream_event(
    parts: list[JsonObject], finish_reason: str | None = None, **usage: int
) -> JsonObject:
    chunk: JsonObject = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish_reason:
        chunk["finishReason"] = finish_reason
    event: JsonObject = {"candidates": [chunk], "modelVersion": MODEL, "responseId": "resp-7"}
    if usage:
        event["usageMetadata"] = usage
    return event


def test_a_gemini_stream_becomes_hub_chunks_with_usage_last() -> None:
    reader = GeminiStreamToHub(MODEL)
    chunks = read_all(
        reader,
        [
            stream_event([{"text": "Hmm", "thought": True}], promptTokenCount=4),
            stream_event([{"text": "Hel"}], promptTokenCount=4, candidatesTokenCount=1),
            stream_event(
                [{"text": "lo"}],
                "STOP",
                promptTokenCount=4,
                candidatesTokenCount=2,
                thoughtsTokenCount=3,
            ),
        ],
    )
    assert {chunk["id"] for chunk in chunks} == {"resp-7"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert deltas(chunks, "reasoning_content") == ["Hmm"]
    assert deltas(chunks, "content") == ["", "Hel", "lo"]
    assert chunks[-2]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == hub_usage(
        TokenUsage(input_tokens=4, output_tokens=5, reasoning_tokens=3)
    )
    assert reader.usage == TokenUsage(input_tokens=4, output_tokens=5, reasoning_tokens=3)


def test_parallel_function_calls_become_whole_tool_call_deltas() -> None:
    chunks = read_all(
        GeminiStreamToHub(MODEL),
        [
            stream_event([call("weather", {"city": "Paris"}, "w1"), call("clock", {})]),
            stream_event([{"text": ""}], "STOP", promptTokenCount=2, candidatesTokenCount=6),
        ],
    )
    calls = [piece for pieces in deltas(chunks, "tool_calls") for piece in pieces]
    assert [(c["index"], c["function"]) for c in calls] == [
        (0, {"name": "weather", "arguments": '{"city":"Paris"}'}),
        (1, {"name": "clock", "arguments": "{}"}),
    ]
    assert calls[0]["id"] == "w1" and calls[1]["id"].startswith("call_")
    assert all(c["type"] == "function" for c in calls)
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_candidates_map_to_choice_indexes() -> None:
    event = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "a"}]},
                "index": 0,
                "finishReason": "STOP",
            },
            {
                "content": {"role": "model", "parts": [{"text": "b"}]},
                "index": 1,
                "finishReason": "MAX_TOKENS",
            },
        ]
    }
    chunks = read_all(GeminiStreamToHub(MODEL), [event])
    texts = [
        (c["choices"][0]["index"], c["choices"][0]["delta"].get("content")) for c in chunks[:4]
    ]
    assert texts == [(0, ""), (0, "a"), (1, ""), (1, "b")]
    assert [(c["choices"][0]["index"], c["choices"][0]["finish_reason"]) for c in chunks[4:]] == [
        (0, "stop"),
        (1, "length"),
    ]


def test_a_stream_error_event_raises() -> None:
    reader = GeminiStreamToHub(MODEL)
    reader.feed(sse(stream_event([{"text": "x"}])))
    error_event = {
        "error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
    }
    with pytest.raises(UpstreamStreamError) as error:
        reader.feed(sse(error_event))
    assert isinstance(error.value, UpstreamUnavailable)
    assert error.value.message == "The model is overloaded."
    assert error.value.recorded_message == "upstream stream error (UNAVAILABLE)"


def test_a_stream_cut_short_reports_what_it_saw() -> None:
    reader = GeminiStreamToHub(MODEL)
    assert reader.feed(b": keep-alive\n\n") == []
    assert reader.usage is None
    reader.feed(sse(stream_event([{"text": "x"}])))
    assert reader.finish() == []


def test_a_blocked_stream_finishes_filtered() -> None:
    reader = GeminiStreamToHub(MODEL)
    assert reader.feed(sse({"promptFeedback": {"blockReason": "OTHER"}})) == []
    assert [c["choices"] for c in reader.finish()] == [
        [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]
    ]


def test_a_gemini_stream_read_into_the_hub_and_written_back_keeps_its_content() -> None:
    events = [
        stream_event([{"text": "Plan", "thought": True}]),
        stream_event([{"text": "Calling."}, call("weather", {"city": "Oslo"}, "w1")]),
        stream_event([], "STOP", promptTokenCount=7, candidatesTokenCount=3, thoughtsTokenCount=2),
    ]
    reader, writer = GeminiStreamToHub(MODEL), HubToGeminiStream(MODEL)
    written = b"".join(writer.feed(chunk) for chunk in read_all(reader, events)) + writer.finish()
    documents = sse_documents(written)
    parts = [
        part
        for doc in documents
        for c in doc.get("candidates", [])
        for part in c["content"]["parts"]
    ]
    assert parts == [
        {"text": "Plan", "thought": True},
        {"text": "Calling."},
        {"functionCall": {"id": "w1", "name": "weather", "args": {"city": "Oslo"}}},
        {"text": ""},
    ]
    assert documents[-1]["candidates"][0]["finishReason"] == "STOP"
    assert documents[-1]["usageMetadata"] == {
        "promptTokenCount": 7,
        "candidatesTokenCount": 3,
        "totalTokenCount": 12,
        "thoughtsTokenCount": 2,
    }
