"""Responses requests into the hub and hub answers back into Responses, on their own: the
input items, what is dropped or refused, and the stream's events."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.hub import UnsupportedFeature, hub_chunk
from aisonar.gateway.wire.responses.answers import ResponseFrame, hub_response_to_responses
from aisonar.gateway.wire.responses.compaction import (
    COMPACTION_PROMPT,
    OWN_PREFIX,
    SUMMARY_INTRODUCTION,
    compaction_item,
    summary_of,
)
from aisonar.gateway.wire.responses.hub_client import ToolNames, responses_request_to_hub
from aisonar.gateway.wire.responses.stream import HubToCompactionStream, HubToResponsesStream

FUNCTION = {"type": "function", "name": "run", "parameters": {"type": "object"}}


def test_input_items_become_one_conversation() -> None:
    converted = responses_request_to_hub(
        {
            "model": "m",
            "instructions": "Be brief.",
            "input": [
                {"role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "look"},
                        {"type": "input_image", "image_url": "https://x/a.png"},
                    ],
                },
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
                {"role": "assistant", "content": [{"type": "output_text", "text": "Calling."}]},
                {"type": "function_call", "call_id": "c1", "name": "run", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "run", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "one"},
                {"type": "function_call_output", "call_id": "c2", "output": "two"},
                # OpenAI's own compaction: opaque elsewhere.
                {"type": "compaction", "encrypted_content": "gAAAAB-opaque"},
            ],
            "tools": [FUNCTION, {"type": "web_search"}],
            "tool_choice": "required",
            "text": {"format": {"type": "json_object"}},
            "reasoning": {"effort": "low", "summary": "auto"},
            "max_output_tokens": 100,
            "store": False,
            "metadata": {"k": "v"},
            "client_metadata": {"k": "v"},
            "prompt_cache_key": "p",
        }
    )
    call = {"type": "function", "function": {"name": "run", "arguments": "{}"}}
    assert converted.hub == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "rules"}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Calling.",
                "tool_calls": [{"id": "c1", **call}, {"id": "c2", **call}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": "two"},
        ],
        "metadata": {"k": "v"},
        "store": False,
        "prompt_cache_key": "p",
        "max_tokens": 100,
        "tools": [
            {"type": "function", "function": {"name": "run", "parameters": {"type": "object"}}}
        ],
        "tool_choice": "required",
        "response_format": {"type": "json_object"},
        "reasoning_effort": "low",
    }
    assert converted.dropped == ["input[8]", "tools[1]", "client_metadata"]


def test_namespace_functions_are_flattened_and_named_back() -> None:
    namespace = {"type": "namespace", "name": "crm", "description": "d", "tools": [FUNCTION]}
    converted = responses_request_to_hub(
        {
            "model": "m",
            "input": [
                {"type": "function_call", "call_id": "c", "namespace": "crm", "name": "run"},
            ],
            "tools": [namespace],
        }
    )
    assert converted.hub["tools"][0]["function"]["name"] == "crm__run"
    assert converted.hub["messages"][0]["tool_calls"][0]["function"]["name"] == "crm__run"
    frame = ResponseFrame.of({}, "m", converted.names)
    item = frame.function_call("c", "crm__run", "{}", "completed")
    assert (item["namespace"], item["name"]) == ("crm", "run")


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"store": True}, "store"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
    ],
)
def test_what_needs_stored_state_asks_for_the_whole_conversation(
    document: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        responses_request_to_hub({"model": "m", "input": "hi", **document})
    assert "send the whole conversation" in refused.value.message
    assert refused.value.param == named


@pytest.mark.parametrize(
    "document",
    [
        {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
        {"input": [{"type": "web_search_call", "id": "ws"}]},
        {"tools": [FUNCTION], "tool_choice": {"type": "web_search"}},
        {"seed": 1},
    ],
)
def test_what_cannot_be_translated_is_refused(document: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFeature):
        responses_request_to_hub({"model": "m", "input": "hi", **document})


def test_an_answer_cut_short_is_incomplete() -> None:
    hub = {
        "id": "x",
        "created": 1,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi", "reasoning_content": "hm"},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }
    response = hub_response_to_responses(hub, ResponseFrame.of({}, "m", ToolNames()))
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert [item["type"] for item in response["output"]] == ["reasoning", "message"]
    assert response["usage"]["total_tokens"] == 5


def _events(stream: bytes) -> list[dict[str, Any]]:
    return [
        orjson.loads(line.removeprefix(b"data: "))
        for line in stream.split(b"\n")
        if line.startswith(b"data: ")
    ]


def test_parallel_calls_stream_as_items_of_their_own() -> None:
    writer = HubToResponsesStream(ResponseFrame.of({}, "m", ToolNames()))

    def call(index: int, **fields: Any) -> dict[str, Any]:
        return hub_chunk("x", "m", 1, delta={"tool_calls": [{"index": index, **fields}]})

    chunks = [
        hub_chunk("x", "m", 1, delta={"role": "assistant", "content": "Go"}),
        call(0, id="c0", function={"name": "run", "arguments": ""}),
        call(1, id="c1", function={"name": "run", "arguments": '{"a"'}),
        call(0, function={"arguments": "{}"}),
        call(1, function={"arguments": ":1}"}),
        hub_chunk("x", "m", 1, finish_reason="tool_calls"),
        hub_chunk("x", "m", 1, usage={"prompt_tokens": 1, "completion_tokens": 1}),
    ]
    events = _events(b"".join(writer.feed(chunk) for chunk in chunks) + writer.finish())
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert events[-1]["type"] == "response.completed" and final["usage"]["total_tokens"] == 2
    text, first, second = final["output"]
    assert text["content"][0]["text"] == "Go"
    assert (first["call_id"], first["arguments"]) == ("c0", "{}")
    assert (second["call_id"], second["arguments"]) == ("c1", '{"a":1}')
    deltas = [
        (event["item_id"], event["delta"])
        for event in events
        if event["type"] == "response.function_call_arguments.delta"
    ]
    assert deltas == [(second["id"], '{"a"'), (first["id"], "{}"), (second["id"], ":1}")]
    done = [event["item"]["id"] for event in events if event["type"] == "response.output_item.done"]
    assert done == [text["id"], first["id"], second["id"]]


def test_nothing_to_answer_is_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        responses_request_to_hub({"model": "m", "instructions": "Be brief."})
    assert refused.value.param == "input"


def test_an_answer_without_choices_is_empty_and_incomplete() -> None:
    response = hub_response_to_responses(
        {"id": "x", "choices": []}, ResponseFrame.of({}, "m", ToolNames())
    )
    assert (response["status"], response["output"]) == ("incomplete", [])


# Codex's remote compaction

CODEX_TURN: list[Any] = [
    {"role": "user", "content": "fix the failing test"},
    {"type": "function_call", "call_id": "c1", "name": "run", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "c1", "output": "1 failed"},
]


def test_a_compaction_trigger_asks_for_a_summary_without_tool_calls() -> None:
    converted = responses_request_to_hub(
        {
            "model": "m",
            "input": [*CODEX_TURN, {"type": "compaction_trigger"}],
            "tools": [FUNCTION],
            "tool_choice": "auto",
        }
    )
    assert converted.compacting and converted.dropped == []
    assert converted.hub["messages"][-1] == {"role": "user", "content": COMPACTION_PROMPT}
    # The tools stay declared, for the calls in the conversation, and none may be called.
    assert converted.hub["tool_choice"] == "none" and converted.hub["tools"]
    assert not responses_request_to_hub({"model": "m", "input": CODEX_TURN}).compacting


def test_the_summary_is_the_one_compaction_item_of_the_answer() -> None:
    frame = ResponseFrame.of({}, "m", ToolNames())
    message = {"role": "assistant", "content": "Ran the tests: 1 failed.", "reasoning_content": "h"}
    hub = {"id": "x", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    response = hub_response_to_responses(hub, frame, compacting=True)
    [item] = response["output"]
    assert response["status"] == "completed" and item["type"] == "compaction"
    assert item["encrypted_content"].startswith(OWN_PREFIX)
    assert summary_of(item) == "Ran the tests: 1 failed."
    # A summary cut short is no compaction.
    cut = {"id": "x", "choices": [{"index": 0, "message": message, "finish_reason": "length"}]}
    assert hub_response_to_responses(cut, frame, compacting=True)["output"] == []


def test_a_streamed_summary_is_one_compaction_item_once_whole() -> None:
    writer = HubToCompactionStream(ResponseFrame.of({}, "m", ToolNames()))
    chunks = [
        hub_chunk("x", "m", 1, delta={"role": "assistant", "reasoning_content": "hm"}),
        hub_chunk("x", "m", 1, delta={"content": "Ran the tests: "}),
        hub_chunk("x", "m", 1, delta={"content": "1 failed."}),
        hub_chunk("x", "m", 1, finish_reason="stop"),
        hub_chunk("x", "m", 1, usage={"prompt_tokens": 9, "completion_tokens": 5}),
    ]
    events = _events(b"".join(writer.feed(chunk) for chunk in chunks) + writer.finish())
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert [event["type"] for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    final = events[-1]["response"]
    [item] = final["output"]
    assert item == events[3]["item"] and summary_of(item) == "Ran the tests: 1 failed."
    assert final["usage"]["total_tokens"] == 14


def test_the_gateways_compaction_item_is_its_summary_and_openais_is_dropped() -> None:
    converted = responses_request_to_hub(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "fix the failing test"},
                compaction_item("Ran the tests: 1 failed."),
                {"type": "compaction", "encrypted_content": "gAAAAB-opaque"},
                # Marked as the gateway's, but not base64: not a summary it wrote.
                {"type": "compaction", "encrypted_content": OWN_PREFIX + "%%%"},
                {"role": "user", "content": "go on"},
            ],
        }
    )
    assert converted.hub["messages"] == [
        {"role": "user", "content": "fix the failing test"},
        {"role": "user", "content": SUMMARY_INTRODUCTION + "Ran the tests: 1 failed."},
        {"role": "user", "content": "go on"},
    ]
    assert converted.dropped == ["input[2]", "input[3]"] and not converted.compacting
