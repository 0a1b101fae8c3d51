"""OpenAI's Responses API for the fake upstream, faithful enough for the official `openai` SDK:
`POST /v1/responses`, plain and streamed.

The input is a string or a list of input items (messages, `function_call` and
`function_call_output` items; reasoning and `compaction` items, and Codex's final
`compaction_trigger`, are accepted and ignored: the fake answers a compaction trigger as an
ordinary turn), with `instructions`, tools, `tool_choice`, `max_output_tokens` (at least 16, as
the real API requires) and `text.format`. Tools are functions, `namespace` tools grouping
functions (their calls name the namespace), or hosted tools (`web_search`, ...), accepted and
never called. Answers follow the OpenAI fake's rules (see `fake_replies`): an output message
"Echo: " + the last user text (or the last function output), or, with tools, a `function_call`
item calling the first (or chosen) function, its arguments valid against the function's
parameters; with a `json_schema` text format the text is JSON valid against its schema (strings
are the text; `{"echo": <text>}` when no properties are declared). An answer cut by
`max_output_tokens` is an "incomplete" Response, and its stream ends in `response.incomplete`.

The "no_usage" fault reports `"usage": null`, the value the API gives while a Response is in
progress; a usage block queued with `/_fake/usage` is reported verbatim.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from aisonar.testing.fake_core import Admission, admit, json_response
from aisonar.testing.fake_native import NamedEvent, one_answer_request, stream_named_events
from aisonar.testing.fake_replies import (
    ChatRequest,
    JsonObject,
    Reply,
    content_text,
    invalid_param,
    json_object,
    make_reply,
    optional_int,
    random_id,
    required_param,
    split_pieces,
)
from aisonar.usage.tokens import count_chat_prompt_tokens

_MIN_OUTPUT_TOKENS = 16
_ROLES = ("user", "assistant", "system", "developer")
_PART_TYPES = ("input_text", "output_text", "refusal", "input_image", "input_file")
_JSON_FORMATS = ("json_object", "json_schema")
# Request fields a Response echoes back, with the value it shows when the request has none.
_ECHOED_FIELDS: JsonObject = {
    "background": False,
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "prompt_cache_key": None,
    "reasoning": {"effort": None, "summary": None},
    "safety_identifier": None,
    "service_tier": "default",
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}, "verbosity": "medium"},
    "tool_choice": "auto",
    "top_logprobs": 0,
    "top_p": 1.0,
    "truncation": "disabled",
    "user": None,
    "metadata": {},
}


@dataclass(frozen=True)
class ResponsesRequest:
    """A Responses request: its conversation in OpenAI's chat shape, which the shared reply
    maker answers, and the body, whose settings the Response echoes."""

    chat: ChatRequest
    body: JsonObject
    # Functions of namespace tools -> their namespace.
    namespaces: dict[str, str]


# --- parsing ---------------------------------------------------------------------------------


def _check_parts(parts: list[Any], location: str) -> None:
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("type") not in _PART_TYPES:
            expected = "a content part of type " + ", ".join(_PART_TYPES)
            raise invalid_param(f"{location}[{index}]", expected)


def _message_item(item: JsonObject, location: str) -> JsonObject:
    role = item.get("role")
    if role not in _ROLES:
        raise invalid_param(f"{location}.role", "one of " + ", ".join(_ROLES))
    content = required_param(item, "content")
    if isinstance(content, list):
        _check_parts(content, f"{location}.content")
    elif not isinstance(content, str):
        raise invalid_param(f"{location}.content", "a string or an array of content parts")
    return {"role": role, "content": content_text(content)}


def _function_call_item(item: JsonObject) -> JsonObject:
    required_param(item, "call_id")
    function = {
        "name": required_param(item, "name"),
        "arguments": required_param(item, "arguments"),
    }
    return {"role": "assistant", "content": "", "tool_calls": [{"function": function}]}


def _function_output_item(item: JsonObject) -> JsonObject:
    required_param(item, "call_id")
    return {"role": "tool", "content": content_text(required_param(item, "output"))}


def _chat_message(item: Any, location: str, last: bool) -> JsonObject | None:
    """An input item as a chat message; None for an item that adds nothing."""
    if not isinstance(item, dict):
        raise invalid_param(location, "an input item object")
    kind = item.get("type", "message")
    if kind == "message":
        return _message_item(item, location)
    if kind == "function_call":
        return _function_call_item(item)
    if kind == "function_call_output":
        return _function_output_item(item)
    if kind in ("reasoning", "compaction"):
        return None
    if kind == "compaction_trigger":
        if not last:
            raise invalid_param(location, "the final input item, as a compaction trigger")
        return None
    expected = (
        "one of message, function_call, function_call_output, reasoning, compaction,"
        " compaction_trigger"
    )
    raise invalid_param(f"{location}.type", expected)


def _chat_messages(body: JsonObject) -> list[JsonObject]:
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise invalid_param("instructions", "a string")
    messages = [{"role": "system", "content": instructions}] if instructions else []
    items = required_param(body, "input")
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    if not isinstance(items, list):
        raise invalid_param("input", "a string or an array of input items")
    converted = (
        _chat_message(item, f"input[{index}]", index == len(items) - 1)
        for index, item in enumerate(items)
    )
    messages.extend(message for message in converted if message is not None)
    if not messages:
        raise invalid_param("input", "at least one input message")
    return messages


def _is_function(tool: Any) -> bool:
    return (
        isinstance(tool, dict)
        and tool.get("type") == "function"
        and isinstance(tool.get("name"), str)
    )


def _functions(body: JsonObject) -> dict[str, str | None]:
    """The functions the answer may call -> the namespace they belong to, if any."""
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise invalid_param("tools", "an array of tools")
    functions: dict[str, str | None] = {}
    for index, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function" and _is_function(tool):
            functions[tool["name"]] = None
        elif kind == "namespace":
            inner = tool.get("tools")
            if not isinstance(tool.get("name"), str) or not isinstance(inner, list):
                raise invalid_param(f"tools[{index}]", "a namespace with a name and tools")
            functions.update({t["name"]: tool["name"] for t in inner if _is_function(t)})
        elif kind == "function":
            raise invalid_param(f"tools[{index}].name", "the function's name")
        elif not isinstance(kind, str):
            raise invalid_param(f"tools[{index}].type", "the tool's type")
    return functions


def _function_names(body: JsonObject) -> list[str]:
    return list(_functions(body))


def _tool_to_call(body: JsonObject, messages: list[JsonObject]) -> str | None:
    """The function the answer calls, or None when it is text."""
    names = _function_names(body)
    choice = body.get("tool_choice", "auto")
    named = choice.get("name") if isinstance(choice, dict) else None
    if named is None and choice not in ("auto", "required", "none"):
        raise invalid_param("tool_choice", "none, auto, required or a function choice")
    if named is not None and named not in names:
        raise invalid_param("tool_choice", "the name of a function in tools")
    if not names or choice == "none" or messages[-1]["role"] == "tool":
        return None
    return str(named) if named is not None else names[0]


def _parameters(body: JsonObject, name: str | None) -> JsonObject | None:
    """The parameters schema of the function called `name`, namespaced or not."""
    for tool in body.get("tools") or []:
        inner = tool.get("tools") if tool.get("type") == "namespace" else [tool]
        for function in inner:
            if _is_function(function) and function["name"] == name:
                parameters = function.get("parameters")
                return parameters if isinstance(parameters, dict) else None
    return None


def _max_output_tokens(body: JsonObject) -> int | None:
    value = optional_int(body, "max_output_tokens")
    if value is not None and value < _MIN_OUTPUT_TOKENS:
        raise invalid_param("max_output_tokens", f"an integer of at least {_MIN_OUTPUT_TOKENS}")
    return value


def _text_format(body: JsonObject) -> JsonObject:
    text = body.get("text")
    output_format = text.get("format") if isinstance(text, dict) else None
    return output_format if isinstance(output_format, dict) else {}


def _format_schema(output_format: JsonObject) -> JsonObject | None:
    if output_format.get("type") != "json_schema":
        return None
    schema = output_format.get("schema")
    if not isinstance(schema, dict):
        raise invalid_param("text.format.schema", "a JSON schema object")
    return schema


def parse_responses(body: Any) -> ResponsesRequest:
    body = json_object(body)
    model = required_param(body, "model")
    if not isinstance(model, str):
        raise invalid_param("model", "a string")
    messages = _chat_messages(body)
    tool_name = _tool_to_call(body, messages)
    output_format = _text_format(body)
    chat = one_answer_request(
        body,
        model,
        messages,
        max_tokens=_max_output_tokens(body),
        tool_name=tool_name,
        json_reply=output_format.get("type") in _JSON_FORMATS,
        schema=_format_schema(output_format) if tool_name is None else _parameters(body, tool_name),
    )
    namespaces = {name: space for name, space in _functions(body).items() if space is not None}
    return ResponsesRequest(chat, body, namespaces)


# --- the Response ----------------------------------------------------------------------------


def _output_item(reply: Reply, status: str, namespaces: dict[str, str]) -> JsonObject:
    if reply.tool_name is not None:
        call = {
            "id": random_id("fc_"),
            "type": "function_call",
            "status": status,
            "arguments": reply.text,
            "call_id": reply.tool_call_id,
            "name": reply.tool_name,
        }
        if reply.tool_name in namespaces:
            call["namespace"] = namespaces[reply.tool_name]
        return call
    text = {"type": "output_text", "annotations": [], "logprobs": [], "text": reply.text}
    return {
        "id": random_id("msg_"),
        "type": "message",
        "status": status,
        "content": [text],
        "role": "assistant",
    }


def computed_usage(input_tokens: int, output_tokens: int) -> JsonObject:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _reported_usage(admission: Admission, chat: ChatRequest, reply: Reply) -> JsonObject | None:
    if admission.usage is not None:
        return admission.usage
    if admission.fault == "no_usage":
        return None
    input_tokens = count_chat_prompt_tokens(chat.messages, chat.model)
    return computed_usage(input_tokens, reply.completion_tokens)


def _echoed_tools(body: JsonObject) -> list[JsonObject]:
    return [
        {"description": None, "strict": True, **tool} if _is_function(tool) else tool
        for tool in body.get("tools") or []
    ]


class _ResponseMaker:
    """Builds the states of one Response: in progress, then completed or incomplete."""

    def __init__(self, request: ResponsesRequest) -> None:
        self._request = request
        self._id = random_id("resp_", 48)
        self._created_at = int(time.time())

    def make(self, status: str, output: list[JsonObject], usage: JsonObject | None) -> JsonObject:
        body = self._request.body
        echoed = {name: body.get(name, default) for name, default in _ECHOED_FIELDS.items()}
        incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
        return {
            "id": self._id,
            "object": "response",
            "created_at": self._created_at,
            "completed_at": int(time.time()) if status == "completed" else None,
            "status": status,
            "error": None,
            "incomplete_details": incomplete,
            "model": self._request.chat.model,
            "output": output,
            **echoed,
            "tools": _echoed_tools(body),
            "usage": usage,
        }


# --- streaming -------------------------------------------------------------------------------


def _message_events(item: JsonObject) -> list[NamedEvent]:
    part = item["content"][0]
    where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    deltas = [
        {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
        for piece in split_pieces(part["text"])
    ]
    text_done = {"type": "response.output_text.done", **where, "text": part["text"], "logprobs": []}
    return [
        NamedEvent({"type": "response.content_part.added", **where, "part": {**part, "text": ""}}),
        *(NamedEvent(delta, piece=True) for delta in deltas),
        NamedEvent(text_done),
        NamedEvent({"type": "response.content_part.done", **where, "part": part}),
    ]


def _function_call_events(item: JsonObject) -> list[NamedEvent]:
    where = {"item_id": item["id"], "output_index": 0}
    deltas = [
        {"type": "response.function_call_arguments.delta", **where, "delta": piece}
        for piece in split_pieces(item["arguments"])
    ]
    done = {
        "type": "response.function_call_arguments.done",
        **where,
        "arguments": item["arguments"],
    }
    return [*(NamedEvent(delta, piece=True) for delta in deltas), NamedEvent(done)]


def _opened(item: JsonObject) -> JsonObject:
    """The item as `response.output_item.added` shows it, before any content."""
    empty: JsonObject = {"content": []} if item["type"] == "message" else {"arguments": ""}
    return {**item, "status": "in_progress", **empty}


def _stream_events(in_progress: JsonObject, final: JsonObject) -> list[NamedEvent]:
    item = final["output"][0]
    item_events = _message_events if item["type"] == "message" else _function_call_events
    events = [
        NamedEvent({"type": "response.created", "response": in_progress}),
        NamedEvent({"type": "response.in_progress", "response": in_progress}),
        NamedEvent(
            {"type": "response.output_item.added", "output_index": 0, "item": _opened(item)}
        ),
        *item_events(item),
        NamedEvent({"type": "response.output_item.done", "output_index": 0, "item": item}),
        NamedEvent({"type": "response." + final["status"], "response": final}),
    ]
    return [
        NamedEvent({**event.data, "sequence_number": number}, piece=event.piece)
        for number, event in enumerate(events)
    ]


# --- handler ---------------------------------------------------------------------------------


async def create_response(request: web.Request) -> web.StreamResponse:
    admission = await admit(request)
    parsed = parse_responses(admission.body)
    reply = make_reply(parsed.chat)
    status = "incomplete" if reply.finish_reason == "length" else "completed"
    maker = _ResponseMaker(parsed)
    usage = _reported_usage(admission, parsed.chat, reply)
    final = maker.make(status, [_output_item(reply, status, parsed.namespaces)], usage)
    if parsed.chat.stream:
        in_progress = maker.make("in_progress", [], None)
        return await stream_named_events(request, admission, _stream_events(in_progress, final))
    await asyncio.sleep(admission.config.latency_s)
    return json_response(final)
