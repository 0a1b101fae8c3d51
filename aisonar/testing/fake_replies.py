"""Request parsing and reply building for the fake upstream, free of any HTTP code.

Replies are deterministic: a chat completion answers `"Echo: " + <last user text>` (or the last
tool result), so a test can put a marker in a prompt and find it in the answer. A tool call's
arguments and a JSON answer are valid against the tool's parameters or the response format's
schema, their strings that text (`fake_schema.answer_value`; `{"echo": <text>}` when no shape is
asked for). Objects and stream chunks follow the shapes OpenAI's API returns, down to the fields
that are always null.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

import orjson

from aisonar.testing.fake_schema import answer_value
from aisonar.usage.tokens import count_chat_prompt_tokens, count_text_tokens

JsonObject = dict[str, Any]

SYSTEM_FINGERPRINT = "fp_fakeupstream"
_MAX_CHOICES = 128
_PIECE = re.compile(r"\S+\s*|\s+")
_ID_ALPHABET = string.ascii_letters + string.digits


class OpenAIError(Exception):
    """An error answered in OpenAI's `{"error": {...}}` format."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: JsonObject = {
            "error": {"message": message, "type": type, "param": param, "code": code}
        }
        self.headers = headers or {}


@dataclass(frozen=True)
class ChatRequest:
    """The parts of a chat completion request that shape the fake's reply."""

    model: str
    messages: list[JsonObject]
    n: int
    stream: bool
    include_usage: bool
    max_tokens: int | None
    json_reply: bool
    tool_name: str | None
    # What the reply must be valid against: the called tool's parameters, or the response
    # format's JSON schema.
    schema: JsonObject | None = None


@dataclass(frozen=True)
class Reply:
    """One choice: its text is the content, or the arguments when it is a tool call."""

    text: str
    finish_reason: str
    completion_tokens: int
    tool_call_id: str | None = None
    tool_name: str | None = None


@dataclass(frozen=True)
class Completion:
    """A whole answer; `usage` is None when the upstream reports none."""

    id: str
    created: int
    model: str
    choices: tuple[Reply, ...]
    usage: JsonObject | None


@dataclass(frozen=True)
class StreamPlan:
    """Stream chunks: `head` opens each choice, `rounds` carry content, `tail` closes."""

    head: list[JsonObject]
    rounds: list[list[JsonObject]]
    tail: list[JsonObject]


def random_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def split_pieces(text: str) -> list[str]:
    """Split text into word-sized stream pieces, each keeping its trailing whitespace."""
    return _PIECE.findall(text)


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def last_user_text(messages: list[JsonObject]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


# --- parsing ---------------------------------------------------------------------------------


def json_object(body: Any) -> JsonObject:
    if not isinstance(body, dict):
        raise OpenAIError(400, "The request body must be a JSON object.")
    return body


def required_param(body: JsonObject, name: str) -> Any:
    if body.get(name) is None:
        raise OpenAIError(
            400,
            f"Missing required parameter: '{name}'.",
            param=name,
            code="missing_required_parameter",
        )
    return body[name]


def invalid_param(name: str, expected: str) -> OpenAIError:
    return OpenAIError(
        400, f"Invalid '{name}': expected {expected}.", param=name, code="invalid_value"
    )


def optional_int(body: JsonObject, name: str, maximum: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise invalid_param(name, "a positive integer")
    if maximum is not None and value > maximum:
        raise invalid_param(name, f"an integer at most {maximum}")
    return value


def _messages(body: JsonObject) -> list[JsonObject]:
    messages = required_param(body, "messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_param("messages", "a non-empty array of messages")
    if not all(isinstance(message, dict) and "role" in message for message in messages):
        raise invalid_param("messages", "every message to be an object with a 'role'")
    return messages


def _function_name(entry: Any) -> Any:
    """`entry["function"]["name"]` of a tool or a tool choice, or None."""
    function = entry.get("function") if isinstance(entry, dict) else None
    return function.get("name") if isinstance(function, dict) else None


def _parameters(body: JsonObject, name: str | None) -> JsonObject | None:
    """The parameters schema of the function tool called `name`."""
    for tool in body.get("tools") or []:
        if _function_name(tool) == name:
            parameters = tool["function"].get("parameters")
            return parameters if isinstance(parameters, dict) else None
    return None


def _format_schema(response_format: Any) -> JsonObject | None:
    """The schema of a `json_schema` response format."""
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise invalid_param("response_format.json_schema", "an object with a 'schema'")
    return schema


def _tool_name(body: JsonObject, messages: list[JsonObject]) -> str | None:
    """The function to call, or None when the reply should be text."""
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if not tools or choice == "none" or messages[-1].get("role") == "tool":
        return None
    named = _function_name(choice)
    if isinstance(named, str):
        return named
    name = _function_name(tools[0] if isinstance(tools, list) else None)
    if not isinstance(name, str):
        raise invalid_param("tools", "an array of function tools, each with a name")
    return name


def parse_chat(body: Any) -> ChatRequest:
    body = json_object(body)
    model = required_param(body, "model")
    if not isinstance(model, str):
        raise invalid_param("model", "a string")
    messages = _messages(body)
    stream_options = body.get("stream_options")
    response_format = body.get("response_format")
    max_tokens = optional_int(body, "max_completion_tokens") or optional_int(body, "max_tokens")
    tool_name = _tool_name(body, messages)
    schema = _format_schema(response_format) if tool_name is None else _parameters(body, tool_name)
    return ChatRequest(
        model=model,
        messages=messages,
        n=optional_int(body, "n", _MAX_CHOICES) or 1,
        stream=body.get("stream") is True,
        include_usage=isinstance(stream_options, dict)
        and stream_options.get("include_usage") is True,
        max_tokens=max_tokens,
        json_reply=isinstance(response_format, dict)
        and response_format.get("type") in ("json_object", "json_schema"),
        tool_name=tool_name,
        schema=schema,
    )


# --- chat replies ----------------------------------------------------------------------------


def _fits(text: str, limit: int, model: str) -> bool:
    return count_text_tokens(text, model) <= limit


def truncate_to_tokens(text: str, limit: int, model: str) -> str:
    """The longest prefix of `text` (to the character) that counts at most `limit` tokens."""
    if _fits(text, limit, model):
        return text
    kept = ""
    for piece in split_pieces(text):
        if _fits(kept + piece, limit, model):
            kept += piece
            continue
        for char in piece:
            if not _fits(kept + char, limit, model):
                return kept
            kept += char
    return kept


def cut_at_stop_sequence(text: str, sequences: tuple[str, ...]) -> tuple[str, str | None]:
    """The text before the first stop sequence in it, and that sequence (None if none)."""
    hits = [
        (text.find(sequence), sequence) for sequence in sequences if sequence and sequence in text
    ]
    if not hits:
        return text, None
    position, sequence = min(hits)
    return text[:position], sequence


def _source_text(messages: list[JsonObject]) -> str:
    last = messages[-1]
    if last.get("role") == "tool":
        return content_text(last.get("content"))
    return last_user_text(messages)


def _generated_text(chat: ChatRequest) -> str:
    source = _source_text(chat.messages)
    if chat.tool_name is not None or chat.json_reply:
        return orjson.dumps(answer_value(chat.schema, source)).decode()
    return "Echo: " + source


def make_reply(chat: ChatRequest) -> Reply:
    full = _generated_text(chat)
    text = (
        full if chat.max_tokens is None else truncate_to_tokens(full, chat.max_tokens, chat.model)
    )
    tokens = count_text_tokens(text, chat.model)
    if text != full:
        finish_reason = "length"
    elif chat.tool_name is not None:
        finish_reason = "tool_calls"
    else:
        finish_reason = "stop"
    if chat.tool_name is None:
        return Reply(text, finish_reason, tokens)
    tokens += count_text_tokens(chat.tool_name, chat.model)
    return Reply(text, finish_reason, tokens, random_id("call_"), chat.tool_name)


def usage_object(prompt_tokens: int, completion_tokens: int) -> JsonObject:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def plan_completion(chat: ChatRequest, *, report_usage: bool) -> Completion:
    choices = tuple(make_reply(chat) for _ in range(chat.n))
    usage = None
    if report_usage:
        prompt_tokens = count_chat_prompt_tokens(chat.messages, chat.model)
        usage = usage_object(prompt_tokens, sum(c.completion_tokens for c in choices))
    created = int(time.time())
    return Completion(random_id("chatcmpl-", 29), created, chat.model, choices, usage)


def _message(reply: Reply) -> JsonObject:
    message: JsonObject = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.tool_name is not None:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": reply.tool_call_id,
                "type": "function",
                "function": {"name": reply.tool_name, "arguments": reply.text},
            }
        ]
    message["annotations"] = []
    return message


def completion_body(completion: Completion) -> JsonObject:
    body: JsonObject = {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": [
            {
                "index": index,
                "message": _message(reply),
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
            for index, reply in enumerate(completion.choices)
        ],
    }
    if completion.usage is not None:
        body["usage"] = completion.usage
    body["service_tier"] = "default"
    body["system_fingerprint"] = SYSTEM_FINGERPRINT
    return body


# --- streaming -------------------------------------------------------------------------------


def _first_delta(reply: Reply) -> JsonObject:
    if reply.tool_name is None:
        return {"role": "assistant", "content": "", "refusal": None}
    call = {
        "index": 0,
        "id": reply.tool_call_id,
        "type": "function",
        "function": {"name": reply.tool_name, "arguments": ""},
    }
    return {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}


def _piece_delta(reply: Reply, piece: str) -> JsonObject:
    if reply.tool_name is None:
        return {"content": piece}
    return {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}


class _ChunkMaker:
    """Builds `chat.completion.chunk` objects sharing one completion's id and model."""

    def __init__(self, completion: Completion, usage_field: bool) -> None:
        self._completion = completion
        self._usage_field = usage_field

    def make(self, choices: list[JsonObject]) -> JsonObject:
        completion = self._completion
        chunk: JsonObject = {
            "id": completion.id,
            "object": "chat.completion.chunk",
            "created": completion.created,
            "model": completion.model,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": choices,
        }
        if self._usage_field:
            chunk["usage"] = None
        return chunk

    def choice(self, index: int, delta: JsonObject, finish_reason: str | None = None) -> JsonObject:
        entry = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self.make([entry])


def plan_stream(completion: Completion, *, include_usage: bool) -> StreamPlan:
    """Chunks as OpenAI streams them; choices of `n > 1` interleave round by round."""
    with_usage = include_usage and completion.usage is not None
    maker = _ChunkMaker(completion, with_usage)
    choices = list(enumerate(completion.choices))
    pieces = [split_pieces(reply.text) for reply in completion.choices]
    rounds = [
        [
            maker.choice(index, _piece_delta(reply, pieces[index][step]))
            for index, reply in choices
            if step < len(pieces[index])
        ]
        for step in range(max(map(len, pieces)))
    ]
    tail = [maker.choice(index, {}, reply.finish_reason) for index, reply in choices]
    if with_usage:
        tail.append({**maker.make([]), "usage": completion.usage})
    return StreamPlan(
        head=[maker.choice(index, _first_delta(reply)) for index, reply in choices],
        rounds=rounds,
        tail=tail,
    )
