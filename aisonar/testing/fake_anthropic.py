"""Anthropic's Messages API for the fake upstream, faithful enough for the official `anthropic`
SDK: `POST /v1/messages` (plain and streamed) and `POST /v1/messages/count_tokens`.

The key comes in `x-api-key`, or as `Authorization: Bearer` (Anthropic's OAuth tokens, and what
recent SDKs send); an `anthropic-version` header is required. Requests are validated as the
real API does, and errors come back in Anthropic's shape. A `system` message in `messages`
(updated instructions, as Claude Code sends) is taken right after a user turn.

Answers are the OpenAI fake's (see `fake_replies`): "Echo: " + the last user text, or, with
tools, a `tool_use` of the first (or chosen) tool, its input valid against the tool's
`input_schema` (strings are the text; `{"echo": <text>}` when it declares no properties). With
`output_config.format` (a `json_schema`) the text is JSON valid against that schema. With thinking
enabled a thinking block ("Thinking about: <text>", fake signature) comes first, counted in the
output tokens. `max_tokens` truncates a text answer (tool calls are never truncated), and a stop
sequence in the answer cuts it before the sequence. Input tokens are the chat fake's count of
the conversation and system prompt (not of the tool definitions), in usage and count_tokens alike.

The "no_usage" fault leaves out every `usage` key: the real API always reports usage, but an
upstream that does not is what makes the gateway estimate. The SDK's `messages.stream` helper
cannot accumulate such a stream; plain `messages.create(stream=True)` reads it fine. A usage
block queued with `/_fake/usage` is reported verbatim as the Message's usage and in
`message_delta`, while `message_start` shows its input side.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from aiohttp import web

from aisonar.testing.fake_core import Admission, admit, bearer_key, json_response
from aisonar.testing.fake_native import NamedEvent, one_answer_request, stream_named_events
from aisonar.testing.fake_replies import (
    ChatRequest,
    JsonObject,
    OpenAIError,
    Reply,
    content_text,
    cut_at_stop_sequence,
    json_object,
    last_user_text,
    make_reply,
    random_id,
    split_pieces,
)
from aisonar.usage.tokens import count_chat_prompt_tokens, count_text_tokens

_MIN_THINKING_BUDGET = 1024
_SIGNATURE_LENGTH = 96
# The fields each content block must carry, by type.
_BLOCK_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "image": ("source",),
    "document": ("source",),
    "tool_use": ("id", "name", "input"),
    "tool_result": ("tool_use_id",),
    "thinking": ("thinking", "signature"),
    "redacted_thinking": ("data",),
}
_TOOL_CHOICES = ("auto", "any", "tool", "none")
_THINKING_TYPES = ("enabled", "disabled", "adaptive")
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
# The usage fields `message_start` reports; `message_delta` then carries the final counters.
_START_USAGE_FIELDS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cache_creation",
    "service_tier",
)
_DELTA_USAGE_FIELDS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)
_PING = NamedEvent({"type": "ping"})


@dataclass(frozen=True)
class MessagesRequest:
    """A Messages request: its conversation in OpenAI's chat shape, which the shared reply
    maker answers, plus what only Anthropic has."""

    chat: ChatRequest
    stop_sequences: tuple[str, ...]
    thinking: bool


@dataclass(frozen=True)
class _Ending:
    """The answer's last block and why it ended there."""

    block: JsonObject
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int


class _BlockStream(NamedTuple):
    """How a block streams: its empty start, its content pieces, then closing deltas."""

    start: JsonObject
    pieces: list[JsonObject]
    closing: list[JsonObject]


def anthropic_key(request: web.Request) -> str | None:
    return request.headers.get("x-api-key") or bearer_key(request)


async def list_models(request: web.Request) -> web.Response:
    """`GET /v1/models` the way the Anthropic API pages its model list."""
    _require_version(request)
    admission = await admit(request, anthropic_key)
    data = [
        {"type": "model", "id": model, "display_name": model, "created_at": "2025-10-01T00:00:00Z"}
        for model in admission.config.models
    ]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return json_response({"data": data, "has_more": False, "first_id": first, "last_id": last})


def _require_version(request: web.Request) -> None:
    if "anthropic-version" not in request.headers:
        raise OpenAIError(400, "anthropic-version: header is required")


# --- validation ------------------------------------------------------------------------------


def _invalid(location: str, problem: str) -> OpenAIError:
    return OpenAIError(400, f"{location}: {problem}", param=location)


def _field(body: JsonObject, name: str, location: str) -> Any:
    if name not in body:
        raise _invalid(location, "Field required")
    return body[name]


def _unknown_tag(location: str, tag: Any, expected: Iterable[str]) -> OpenAIError:
    tags = ", ".join(f"'{name}'" for name in expected)
    problem = f"Input tag '{tag}' found using 'type' does not match any of the expected tags: "
    return _invalid(location, problem + tags)


def _string(value: Any, location: str) -> str:
    if not isinstance(value, str):
        raise _invalid(location, "Input should be a valid string")
    return value


def _list(value: Any, location: str) -> list[Any]:
    if not isinstance(value, list):
        raise _invalid(location, "Input should be a valid list")
    return value


def _object(value: Any, location: str) -> JsonObject:
    if not isinstance(value, dict):
        raise _invalid(location, "Input should be a valid dictionary")
    return value


def _integer(value: Any, location: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(location, "Input should be a valid integer")
    if value < minimum:
        raise _invalid(location, f"Input should be greater than or equal to {minimum}")
    return value


def _check_temperature(body: JsonObject) -> None:
    value = body.get("temperature")
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _invalid("temperature", "Input should be a valid number")
    if value < 0:
        raise _invalid("temperature", "Input should be greater than or equal to 0")
    if value > 1:
        raise _invalid("temperature", "Input should be less than or equal to 1")


def _block(value: Any, location: str) -> JsonObject:
    block = _object(value, location)
    kind = block.get("type")
    if kind not in _BLOCK_FIELDS:
        raise _unknown_tag(f"{location}.type", kind, _BLOCK_FIELDS)
    for name in _BLOCK_FIELDS[kind]:
        _field(block, name, f"{location}.{kind}.{name}")
    return block


def _blocks(content: Any, location: str) -> list[JsonObject]:
    """Content as blocks: a string is one text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [
        _block(item, f"{location}.{index}") for index, item in enumerate(_list(content, location))
    ]


def _turn(value: Any, location: str) -> JsonObject:
    message = _object(value, location)
    role = _field(message, "role", f"{location}.role")
    if role not in ("user", "assistant", "system"):
        raise _invalid(f"{location}.role", "Input should be 'user', 'assistant' or 'system'")
    content = _field(message, "content", f"{location}.content")
    return {"role": role, "content": _blocks(content, f"{location}.content")}


def _turns(body: JsonObject) -> list[JsonObject]:
    """The turns; a system message (updated instructions) may follow a user turn only."""
    messages = _list(_field(body, "messages", "messages"), "messages")
    if not messages:
        raise _invalid("messages", "at least one message is required")
    turns = [_turn(message, f"messages.{index}") for index, message in enumerate(messages)]
    if turns[0]["role"] != "user":
        raise _invalid("messages", 'first message must use the "user" role')
    for index, turn in enumerate(turns[1:], start=1):
        if turn["role"] == "system" and turns[index - 1]["role"] != "user":
            raise _invalid(f"messages.{index}", "a system message must follow a user message")
    return turns


def _system_text(body: JsonObject) -> str:
    system = body.get("system")
    if system is None:
        return ""
    blocks = _blocks(system, "system")
    for index, block in enumerate(blocks):
        if block["type"] != "text":
            raise _invalid(f"system.{index}.type", "Input should be 'text'")
    return " ".join(str(block["text"]) for block in blocks)


def _tool_schemas(body: JsonObject) -> dict[str, JsonObject]:
    """Each tool's name and input schema."""
    tools = body.get("tools")
    if tools is None:
        return {}
    schemas = {}
    for index, value in enumerate(_list(tools, "tools")):
        location = f"tools.{index}.custom"
        tool = _object(value, location)
        name = _string(_field(tool, "name", f"{location}.name"), f"{location}.name")
        schema = _field(tool, "input_schema", f"{location}.input_schema")
        schemas[name] = _object(schema, f"{location}.input_schema")
    return schemas


def _tool_names(body: JsonObject) -> list[str]:
    return list(_tool_schemas(body))


def _output_schema(body: JsonObject) -> JsonObject | None:
    """The JSON schema `output_config.format` (or the structured-outputs beta's top-level
    `output_format`) asks the answer to follow."""
    config = _object(body.get("output_config") or {}, "output_config")
    if config.get("format") is not None:
        where, given = "output_config.format", config["format"]
    elif body.get("output_format") is not None:
        where, given = "output_format", body["output_format"]
    else:
        return None
    output_format = _object(given, where)
    kind = output_format.get("type")
    if kind != "json_schema":
        raise _unknown_tag(f"{where}.type", kind, ("json_schema",))
    location = f"{where}.schema"
    return _object(_field(output_format, "schema", location), location)


def _tool_choice(body: JsonObject, names: list[str]) -> JsonObject:
    choice = _object(body.get("tool_choice", {"type": "auto"}), "tool_choice")
    kind = choice.get("type")
    if kind not in _TOOL_CHOICES:
        raise _unknown_tag("tool_choice.type", kind, _TOOL_CHOICES)
    if kind == "tool":
        name = _field(choice, "name", "tool_choice.tool.name")
        if name not in names:
            raise _invalid("tool_choice.tool.name", f"Tool '{name}' not found in 'tools'")
    return choice


def _tool_to_call(body: JsonObject, messages: list[JsonObject]) -> str | None:
    """The tool the answer calls, or None when it is text."""
    names = _tool_names(body)
    choice = _tool_choice(body, names)
    if not names or choice["type"] == "none" or messages[-1]["role"] == "tool":
        return None
    return str(choice["name"]) if choice["type"] == "tool" else names[0]


def _stop_sequences(body: JsonObject) -> tuple[str, ...]:
    value = body.get("stop_sequences")
    if value is None:
        return ()
    sequences = _list(value, "stop_sequences")
    return tuple(_string(item, f"stop_sequences.{index}") for index, item in enumerate(sequences))


def _thinking(body: JsonObject, max_tokens: int) -> bool:
    """Whether the answer starts with a thinking block."""
    value = body.get("thinking")
    if value is None:
        return False
    thinking = _object(value, "thinking")
    kind = thinking.get("type")
    if kind not in _THINKING_TYPES:
        raise _unknown_tag("thinking.type", kind, _THINKING_TYPES)
    if kind == "enabled":
        location = "thinking.enabled.budget_tokens"
        budget = _integer(
            _field(thinking, "budget_tokens", location), location, _MIN_THINKING_BUDGET
        )
        if max_tokens <= budget:
            raise OpenAIError(400, "`max_tokens` must be greater than `thinking.budget_tokens`.")
    thinks = kind in ("enabled", "adaptive")
    forced = _object(body.get("tool_choice") or {}, "tool_choice").get("type") in ("any", "tool")
    if thinks and forced:
        raise OpenAIError(400, "Thinking may not be enabled when tool_choice forces tool use.")
    return thinks


# --- the conversation in OpenAI's chat shape -------------------------------------------------


def _tool_call(block: JsonObject) -> JsonObject:
    arguments = orjson.dumps(block["input"]).decode()
    return {
        "id": block["id"],
        "type": "function",
        "function": {"name": block["name"], "arguments": arguments},
    }


def _chat_turn(turn: JsonObject) -> list[JsonObject]:
    """A turn as chat messages: its tool results as `tool` messages, then the rest."""
    blocks: list[JsonObject] = turn["content"]
    results = [
        {"role": "tool", "content": content_text(block.get("content"))}
        for block in blocks
        if block["type"] == "tool_result"
    ]
    text = " ".join(str(block["text"]) for block in blocks if block["type"] == "text")
    calls = [_tool_call(block) for block in blocks if block["type"] == "tool_use"]
    message: JsonObject = {"role": turn["role"], "content": text}
    if calls:
        message["tool_calls"] = calls
    return [*results, message] if text or calls or not results else results


def _chat_messages(body: JsonObject) -> list[JsonObject]:
    system = _system_text(body)
    messages = [{"role": "system", "content": system}] if system else []
    for turn in _turns(body):
        messages.extend(_chat_turn(turn))
    return messages


def _model(body: JsonObject) -> str:
    return _string(_field(body, "model", "model"), "model")


def parse_messages(body: Any) -> MessagesRequest:
    body = json_object(body)
    model = _model(body)
    max_tokens = _integer(_field(body, "max_tokens", "max_tokens"), "max_tokens", 1)
    messages = _chat_messages(body)
    _check_temperature(body)
    tool_name = _tool_to_call(body, messages)
    output_schema = _output_schema(body)
    chat = one_answer_request(
        body,
        model,
        messages,
        max_tokens=max_tokens,
        tool_name=tool_name,
        json_reply=output_schema is not None,
        schema=output_schema if tool_name is None else _tool_schemas(body)[tool_name],
    )
    return MessagesRequest(chat, _stop_sequences(body), _thinking(body, max_tokens))


# --- the answer ------------------------------------------------------------------------------


def _thinking_block(chat: ChatRequest) -> JsonObject:
    thinking = "Thinking about: " + last_user_text(chat.messages)
    return {"type": "thinking", "thinking": thinking, "signature": random_id("", _SIGNATURE_LENGTH)}


def _tool_use_block(reply: Reply) -> JsonObject:
    return {
        "type": "tool_use",
        "id": random_id("toolu_"),
        "name": reply.tool_name,
        "input": orjson.loads(reply.text),
    }


def _ending(request: MessagesRequest, reply: Reply) -> _Ending:
    stop_reason = _STOP_REASONS[reply.finish_reason]
    if reply.tool_name is not None:
        return _Ending(_tool_use_block(reply), stop_reason, None, reply.completion_tokens)
    text, sequence = cut_at_stop_sequence(reply.text, request.stop_sequences)
    block = {"type": "text", "text": text}
    if sequence is None:
        return _Ending(block, stop_reason, None, reply.completion_tokens)
    return _Ending(block, "stop_sequence", sequence, count_text_tokens(text, request.chat.model))


def _message(request: MessagesRequest) -> tuple[JsonObject, int]:
    """The Message without its usage, and its output tokens."""
    chat = request.chat
    thinking = [_thinking_block(chat)] if request.thinking else []
    thinking_tokens = sum(count_text_tokens(block["thinking"], chat.model) for block in thinking)
    # Thinking spends from max_tokens; tool calls are never truncated.
    limit = None if chat.tool_name is not None else (chat.max_tokens or 0) - thinking_tokens
    ending = _ending(request, make_reply(dataclasses.replace(chat, max_tokens=limit)))
    message = {
        "id": random_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": chat.model,
        "content": [*thinking, ending.block],
        "stop_reason": ending.stop_reason,
        "stop_sequence": ending.stop_sequence,
    }
    return message, thinking_tokens + ending.output_tokens


def computed_usage(input_tokens: int, output_tokens: int) -> JsonObject:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _pick(block: JsonObject, names: tuple[str, ...]) -> JsonObject:
    return {name: block[name] for name in names if name in block}


def _reported_usage(
    admission: Admission, chat: ChatRequest, output_tokens: int
) -> tuple[JsonObject | None, JsonObject | None]:
    """The usage the Message reports and the one `message_delta` reports: a queued block
    verbatim in both, none for the "no_usage" fault."""
    if admission.usage is not None:
        return admission.usage, admission.usage
    if admission.fault == "no_usage":
        return None, None
    usage = computed_usage(count_chat_prompt_tokens(chat.messages, chat.model), output_tokens)
    return usage, _pick(usage, _DELTA_USAGE_FIELDS)


# --- streaming -------------------------------------------------------------------------------


def _text_stream(block: JsonObject) -> _BlockStream:
    pieces = [{"type": "text_delta", "text": piece} for piece in split_pieces(block["text"])]
    return _BlockStream({"type": "text", "text": ""}, pieces, [])


def _tool_use_stream(block: JsonObject) -> _BlockStream:
    arguments = orjson.dumps(block["input"]).decode()
    pieces = [
        {"type": "input_json_delta", "partial_json": piece} for piece in split_pieces(arguments)
    ]
    return _BlockStream({**block, "input": {}}, pieces, [])


def _thinking_stream(block: JsonObject) -> _BlockStream:
    pieces = [{"type": "thinking_delta", "thinking": p} for p in split_pieces(block["thinking"])]
    signature = {"type": "signature_delta", "signature": block["signature"]}
    return _BlockStream({"type": "thinking", "thinking": "", "signature": ""}, pieces, [signature])


_BLOCK_STREAMS = {"text": _text_stream, "tool_use": _tool_use_stream, "thinking": _thinking_stream}


def _block_events(index: int, block: JsonObject) -> list[NamedEvent]:
    stream = _BLOCK_STREAMS[block["type"]](block)

    def delta(content: JsonObject) -> JsonObject:
        return {"type": "content_block_delta", "index": index, "delta": content}

    return [
        NamedEvent({"type": "content_block_start", "index": index, "content_block": stream.start}),
        *(NamedEvent(delta(piece), piece=True) for piece in stream.pieces),
        *(NamedEvent(delta(closing)) for closing in stream.closing),
        NamedEvent({"type": "content_block_stop", "index": index}),
    ]


def _start_message(message: JsonObject) -> JsonObject:
    """The Message as `message_start` opens it: no content yet, and only the input side of
    the usage, with the one output token counted so far."""
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    if "usage" in message:
        start["usage"] = {**_pick(message["usage"], _START_USAGE_FIELDS), "output_tokens": 1}
    return start


def _stream_events(message: JsonObject, delta_usage: JsonObject | None) -> list[NamedEvent]:
    events = [NamedEvent({"type": "message_start", "message": _start_message(message)})]
    for index, block in enumerate(message["content"]):
        events.extend(_block_events(index, block))
    # The real API pings once, right after the first block starts.
    events.insert(2, _PING)
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    message_delta: JsonObject = {"type": "message_delta", "delta": stop}
    if delta_usage is not None:
        message_delta["usage"] = delta_usage
    return [*events, NamedEvent(message_delta), NamedEvent({"type": "message_stop"})]


# --- handlers --------------------------------------------------------------------------------


async def create_message(request: web.Request) -> web.StreamResponse:
    _require_version(request)
    return await answer_message(request, await admit(request, anthropic_key))


async def answer_message(request: web.Request, admission: Admission) -> web.StreamResponse:
    """The Message answering an admitted request (Anthropic's own API or Vertex AI's)."""
    parsed = parse_messages(admission.body)
    message, output_tokens = _message(parsed)
    usage, delta_usage = _reported_usage(admission, parsed.chat, output_tokens)
    if usage is not None:
        message["usage"] = usage
    if parsed.chat.stream:
        return await stream_named_events(request, admission, _stream_events(message, delta_usage))
    await asyncio.sleep(admission.config.latency_s)
    return json_response(message)


async def count_message_tokens(request: web.Request) -> web.Response:
    _require_version(request)
    return count_answer(await admit(request, anthropic_key))


def count_answer(admission: Admission) -> web.Response:
    """The token count of an admitted request (Anthropic's own API or Vertex AI's)."""
    body = json_object(admission.body)
    model = _model(body)
    messages = _chat_messages(body)
    _tool_choice(body, _tool_names(body))
    return json_response({"input_tokens": count_chat_prompt_tokens(messages, model)})
