"""Gemini translation: out of the hub to the provider and back."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types
from openai.types.chat import ChatCompletion

from aisonar.gateway.errors import InvalidRequest, UpstreamUnavailable
from aisonar.gateway.wire.gemini.hub_client_answers import HubToGeminiStream
from aisonar.gateway.wire.gemini.hub_upstream import hub_request_to_gemini
from aisonar.gateway.wire.gemini.hub_upstream_replies import (
    GeminiStreamToHub,
    UpstreamStreamError,
    gemini_response_to_hub,
)
from aisonar.gateway.wire.hub import JsonObject, UnsupportedFeature, hub_usage
from aisonar.token_usage import TokenUsage
from tests.gateway.wire.gemini.cases import (
    MODEL,
    PNG,
    WEATHER_SCHEMA,
    call,
    deltas,
    hub_call,
    image,
    model_turn,
    read_all,
    refused,
    result,
    sse,
    sse_documents,
    to_hub,
    user,
    validate_gemini_request,
    weather_tool,
)

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
