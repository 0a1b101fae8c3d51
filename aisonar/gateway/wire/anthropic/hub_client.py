"""A client speaking Anthropic Messages, served by any provider through the hub.

Requests: every field Messages has is translated or refused (`UnsupportedFeature`, naming
every field refused), with these choices:
- Delivery-only fields are dropped and recorded (`delivery`): `cache_control` on system,
  message blocks and tools (a caching hint), tools' `eager_input_streaming` (how tool input
  streams), `service_tier` (Anthropic's capacity choice) and `context_management` (it edits
  earlier turns' thinking out of the context, which translation leaves out anyway).
- `thinking` and `redacted_thinking` blocks of earlier assistant turns are dropped: the
  previous turns' thinking is not sent on by design (other providers cannot verify
  Anthropic's signatures, and do not take thinking as input).
- `thinking: {"type": "adaptive"}` leaves the thinking to the target's default (no budget);
  `output_config.effort` becomes the hub's `reasoning_effort`, `output_config.format` its
  `response_format`, `metadata.user_id` its `user`.
- Images in a `tool_result` stay in the hub's `tool` message as image parts (the outbound
  translators carry them: OpenAI in a user message after the tool results, Gemini in the
  function response).

Answers: a hub answer becomes a Message; a hub stream becomes Messages stream events.
Tool-call arguments the model wrote that are not a JSON object cannot be a `tool_use`
input; rather than lose them, the whole text is passed as `{"_raw_arguments": text}`, which
the client's tool validation then rejects visibly."""

from __future__ import annotations

import orjson

from aisonar.gateway.errors import InvalidRequest, UnreadableUpstream
from aisonar.gateway.wire.anthropic.dropped import Dropped
from aisonar.gateway.wire.anthropic.format import anthropic_usage_block
from aisonar.gateway.wire.hub import (
    CACHE_BREAKPOINT,
    SHAPE_ERRORS,
    JsonObject,
    Refusals,
    UnsupportedFeature,
    malformed,
    present,
    refuse_unknown,
    usage_from_hub,
)
from aisonar.token_usage import TokenUsage

TARGET = "this model's provider"
RAW_ARGUMENTS_KEY = "_raw_arguments"
TOOL_ERROR_PREFIX = "Error: "

_REQUEST_KEYS = {
    "model",
    "messages",
    "max_tokens",
    "system",
    "stop_sequences",
    "temperature",
    "top_p",
    "stream",
    "thinking",
    "metadata",
    "tools",
    "tool_choice",
    "output_config",
    "output_format",
    "service_tier",
    "context_management",
}
# Top-level fields that only change delivery: dropped (see `delivery`).
_DELIVERY_ONLY = ("service_tier", "context_management")
_BLOCK_KEYS = {
    "text": {"type", "text", "cache_control"},
    "image": {"type", "source", "cache_control"},
    "tool_use": {"type", "id", "name", "input", "cache_control"},
    "tool_result": {"type", "tool_use_id", "content", "is_error", "cache_control"},
}
_DROPPED_BLOCKS = {"thinking", "redacted_thinking"}
_TOOL_KEYS = {
    "type",
    "name",
    "description",
    "input_schema",
    "strict",
    "cache_control",
    "eager_input_streaming",
}
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


# Requests: Anthropic -> hub


def anthropic_request_to_hub(doc: JsonObject) -> JsonObject:
    """A Messages request as a hub request; refuses what the hub cannot carry."""
    try:
        return _request_to_hub(doc)
    except SHAPE_ERRORS as error:
        raise malformed(error) from None


def _request_to_hub(doc: JsonObject) -> JsonObject:
    doc = present(doc)
    refusals = Refusals(TARGET)
    with refusals.part():
        refuse_unknown(doc, _REQUEST_KEYS, TARGET, "")
    dropped = Dropped()
    dropped.note(*(name for name in _DELIVERY_ONLY if name in doc))
    hub: JsonObject = {"model": doc["model"], "max_tokens": doc["max_tokens"]}
    with refusals.part():
        system = _system_messages(doc.get("system"), dropped)
        hub["messages"] = [*system, *_hub_messages(doc["messages"], dropped, refusals)]
    for name in ("temperature", "top_p"):
        if name in doc:
            hub[name] = doc[name]
    if "stop_sequences" in doc:
        hub["stop"] = list(doc["stop_sequences"])
    if doc.get("stream"):
        hub["stream"] = True
    sections = {
        "thinking": _thinking,
        "output_config": _output_config,
        "output_format": _beta_output_format,
        "metadata": _metadata,
        "tool_choice": _tool_choice,
    }
    for name, translate in sections.items():
        if name in doc:
            with refusals.part():
                hub.update(translate(present(doc[name])))
    if "tools" in doc:
        hub["tools"] = []
        for index, tool in enumerate(doc["tools"]):
            with refusals.part():
                hub["tools"].append(_tool(present(tool), index, dropped))
    refusals.check()
    dropped.record(hub)
    return hub


def _system_messages(system: str | list[JsonObject] | None, dropped: Dropped) -> list[JsonObject]:
    if system is None:
        return []
    return [{"role": "system", "content": _text_content(system, "system", dropped)}]


def _text_content(
    content: str | list[JsonObject], path: str, dropped: Dropped
) -> str | list[JsonObject]:
    """System content: a string, or text blocks as text parts."""
    if isinstance(content, str):
        return content
    parts = []
    for index, raw in enumerate(content):
        block = present(raw)
        part = _text_part(block, f"{path}[{index}]")
        parts.append(dropped.carry_cache_hint(block, f"{path}[{index}]", part))
    return parts


def _text_part(block: JsonObject, path: str) -> JsonObject:
    if block["type"] != "text":
        raise UnsupportedFeature(f"{path}.type", TARGET, f"`{block['type']}` blocks")
    refuse_unknown(block, _BLOCK_KEYS["text"], TARGET, f"{path}.")
    return {"type": "text", "text": block["text"]}


def _hub_messages(
    messages: list[JsonObject], dropped: Dropped, refusals: Refusals
) -> list[JsonObject]:
    hub: list[JsonObject] = []
    for index, raw in enumerate(messages):
        with refusals.part():
            hub.extend(_hub_message(present(raw), f"messages[{index}]", dropped))
    return hub


def _hub_message(message: JsonObject, path: str, dropped: Dropped) -> list[JsonObject]:
    refuse_unknown(message, {"role", "content"}, TARGET, f"{path}.")
    role, content = message["role"], message["content"]
    if role == "system":
        return [
            {"role": "system", "content": _text_content(content, "messages[].content", dropped)}
        ]
    if role not in ("user", "assistant"):
        raise InvalidRequest(f"{path}.role: unknown role `{role}`.", param=f"{path}.role")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    blocks = _content_blocks(content, f"{path}.content", dropped)
    if role == "user":
        return _user_messages(blocks, dropped)
    return [_assistant_message(blocks, dropped)]


def _content_blocks(
    blocks: list[JsonObject], path: str, dropped: Dropped
) -> list[tuple[JsonObject, str]]:
    """The blocks to translate with their paths; earlier turns' thinking left out."""
    kept: list[tuple[JsonObject, str]] = []
    unknown: list[str] = []
    for index, raw in enumerate(blocks):
        block, block_path = present(raw), f"{path}[{index}]"
        kind = block["type"]
        if kind in _DROPPED_BLOCKS:
            continue
        if kind not in _BLOCK_KEYS:
            unknown.append(f"{block_path}.type")
            continue
        unknown.extend(f"{block_path}.{key}" for key in block if key not in _BLOCK_KEYS[kind])
        if kind == "tool_use":
            dropped.cache_hint(block, block_path)
        kept.append((block, block_path))
    if unknown:
        raise UnsupportedFeature(unknown, TARGET)
    return kept


def _user_messages(blocks: list[tuple[JsonObject, str]], dropped: Dropped) -> list[JsonObject]:
    """Tool results become `tool` messages, first (they answer the previous turn's calls);
    the rest of the turn follows as one user message."""
    results: list[JsonObject] = []
    parts: list[JsonObject] = []
    for block, block_path in blocks:
        if block["type"] == "tool_result":
            results.append(_tool_message(block, block_path, dropped))
        elif block["type"] == "tool_use":
            raise InvalidRequest(f"{block_path}: tool_use blocks belong to assistant turns.")
        else:
            parts.append(dropped.carry_cache_hint(block, block_path, _user_part(block, block_path)))
    return [*results, {"role": "user", "content": parts}] if parts else results


def _user_part(block: JsonObject, path: str) -> JsonObject:
    if block["type"] == "text":
        return {"type": "text", "text": block["text"]}
    return {"type": "image_url", "image_url": {"url": _image_url(block["source"], path)}}


def _image_url(source: JsonObject, path: str) -> str:
    if source["type"] == "base64":
        return f"data:{source['media_type']};base64,{source['data']}"
    if source["type"] == "url":
        return str(source["url"])
    raise UnsupportedFeature(f"{path}.source.type", TARGET, f"`{source['type']}` image sources")


def _tool_message(block: JsonObject, path: str, dropped: Dropped) -> JsonObject:
    """A tool result as a `tool` message: its text as a string, or, when it holds images or
    a cache breakpoint, its text and image parts."""
    content = block.get("content", "")
    parts = [] if isinstance(content, str) else _tool_result_parts(content, path, dropped)
    if any(part["type"] == "image_url" for part in parts):
        if block.get("is_error"):
            parts.insert(0, {"type": "text", "text": TOOL_ERROR_PREFIX.rstrip()})
    else:
        # A `tool` message carries text only in OpenAI's own API: blocks on lines.
        text = content if isinstance(content, str) else "\n".join(part["text"] for part in parts)
        marked = any("prompt_cache_breakpoint" in part for part in parts)
        if block.get("is_error"):
            text = TOOL_ERROR_PREFIX + text
        parts = [{"type": "text", "text": text}]
        if marked:
            parts[0]["prompt_cache_breakpoint"] = dict(CACHE_BREAKPOINT)
    dropped.carry_cache_hint(block, path, parts[-1])
    if len(parts) == 1 and parts[0].keys() == {"type", "text"}:
        return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": parts[0]["text"]}
    return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": parts}


def _tool_result_parts(content: list[JsonObject], path: str, dropped: Dropped) -> list[JsonObject]:
    parts: list[JsonObject] = []
    for index, raw in enumerate(content):
        block, block_path = present(raw), f"{path}.content[{index}]"
        if block.get("type") == "image":
            refuse_unknown(block, _BLOCK_KEYS["image"], TARGET, f"{block_path}.")
            parts.append(_user_part(block, block_path))
        else:
            parts.append(_text_part(block, block_path))
        dropped.carry_cache_hint(block, block_path, parts[-1])
    return parts


def _assistant_message(blocks: list[tuple[JsonObject, str]], dropped: Dropped) -> JsonObject:
    parts: list[JsonObject] = []
    calls: list[JsonObject] = []
    for block, block_path in blocks:
        if block["type"] == "text":
            part = {"type": "text", "text": block["text"]}
            parts.append(dropped.carry_cache_hint(block, block_path, part))
        elif block["type"] == "tool_use":
            calls.append(_tool_call(block))
        else:
            raise InvalidRequest(f"{block_path}: `{block['type']}` blocks belong to user turns.")
    message: JsonObject = {"role": "assistant", "content": parts or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_call(block: JsonObject) -> JsonObject:
    return {
        "id": block["id"],
        "type": "function",
        "function": {"name": block["name"], "arguments": orjson.dumps(block["input"]).decode()},
    }


def _thinking(thinking: JsonObject) -> JsonObject:
    refuse_unknown(thinking, {"type", "budget_tokens"}, TARGET, "thinking.")
    if thinking["type"] == "enabled":
        return {"thinking_budget": thinking["budget_tokens"]}
    if thinking["type"] in ("disabled", "adaptive"):
        # Adaptive: the model decides whether and how much to think, which is what every
        # target does by default.
        return {}
    raise UnsupportedFeature("thinking.type", TARGET, f"`{thinking['type']}` thinking")


def _output_config(config: JsonObject) -> JsonObject:
    refuse_unknown(config, {"effort", "format"}, TARGET, "output_config.")
    hub: JsonObject = {}
    if "effort" in config:
        hub["reasoning_effort"] = config["effort"]
    if "format" in config:
        hub["response_format"] = _response_format(present(config["format"]), "output_config.format")
    return hub


def _beta_output_format(output_format: JsonObject) -> JsonObject:
    """The structured-outputs beta's spelling of `output_config.format` (LiteLLM sends it)."""
    return {"response_format": _response_format(output_format, "output_format")}


def _response_format(output_format: JsonObject, where: str) -> JsonObject:
    refuse_unknown(output_format, {"type", "schema"}, TARGET, f"{where}.")
    if output_format["type"] != "json_schema":
        detail = f"`{output_format['type']}` formats"
        raise UnsupportedFeature(f"{where}.type", TARGET, detail)
    schema = {"name": "response", "schema": output_format["schema"], "strict": True}
    return {"type": "json_schema", "json_schema": schema}


def _metadata(metadata: JsonObject) -> JsonObject:
    refuse_unknown(metadata, {"user_id"}, TARGET, "metadata.")
    return {"user": metadata["user_id"]} if "user_id" in metadata else {}


def _tool(tool: JsonObject, index: int, dropped: Dropped) -> JsonObject:
    path = f"tools[{index}]"
    if tool.get("type", "custom") != "custom":
        raise UnsupportedFeature(f"{path}.type", TARGET, f"server tool `{tool['type']}`")
    refuse_unknown(tool, _TOOL_KEYS, TARGET, f"{path}.")
    function: JsonObject = {"name": tool["name"], "parameters": tool["input_schema"]}
    for name in ("description", "strict"):
        if name in tool:
            function[name] = tool[name]
    hub_tool = dropped.carry_cache_hint(tool, path, {"type": "function", "function": function})
    if "eager_input_streaming" in tool:
        dropped.note("tools[].eager_input_streaming")
    return hub_tool


def _tool_choice(choice: JsonObject) -> JsonObject:
    kind = choice["type"]
    allowed = {"type", "disable_parallel_tool_use"} | ({"name"} if kind == "tool" else set())
    refuse_unknown(choice, allowed, TARGET, "tool_choice.")
    hub: JsonObject = {}
    if kind == "tool":
        hub["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    elif kind in _TOOL_CHOICES:
        hub["tool_choice"] = _TOOL_CHOICES[kind]
    else:
        raise InvalidRequest(f"tool_choice.type: unknown `{kind}`.", param="tool_choice")
    if choice.get("disable_parallel_tool_use"):
        hub["parallel_tool_calls"] = False
    return hub


# Answers: hub -> Anthropic


def _message_id(hub_id: str) -> str:
    return hub_id if hub_id.startswith("msg_") else f"msg_{hub_id}"


def _stop_reason(finish_reason: str | None) -> str | None:
    return None if finish_reason is None else _STOP_REASONS.get(finish_reason, "end_turn")


def _tool_input(arguments: str) -> JsonObject:
    if not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {RAW_ARGUMENTS_KEY: arguments}
    return parsed if isinstance(parsed, dict) else {RAW_ARGUMENTS_KEY: arguments}


def hub_response_to_anthropic(hub: JsonObject, model: str) -> JsonObject:
    """A hub answer as a Messages `Message` for `model` (the name the client asked for)."""
    choices = hub.get("choices") or [{}]
    message = choices[0].get("message") or {}
    return {
        "id": _message_id(hub.get("id") or ""),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _response_blocks(message),
        "stop_reason": _stop_reason(choices[0].get("finish_reason")) or "end_turn",
        "stop_sequence": None,
        "usage": anthropic_usage_block(usage_from_hub(hub.get("usage") or {})),
    }


def _response_blocks(message: JsonObject) -> list[JsonObject]:
    blocks: list[JsonObject] = []
    if message.get("reasoning_content"):
        blocks.append(
            {"type": "thinking", "thinking": message["reasoning_content"], "signature": ""}
        )
    if message.get("content"):
        blocks.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        function = call["function"]
        blocks.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": function["name"],
                "input": _tool_input(function.get("arguments") or ""),
            }
        )
    return blocks


def _sse(name: str, data: JsonObject) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class HubToAnthropicStream:
    """Hub stream chunks in, Messages stream events out.

    Blocks open as content arrives (thinking, text, one `tool_use` per tool-call index) and
    close when the next kind starts or the finish reason comes. The hub reports usage after
    the finish reason, so `message_delta` (stop reason and the whole usage, which the SDKs
    take as final) waits for the usage chunk, or for `finish()`. A stream that ended without
    a finish reason was cut short: its open block is closed, but no `message_delta` or
    `message_stop` claims it ended normally."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._started = False
        self._ended = False
        self._block_count = 0
        # The open block: ("thinking" | "text", None) or ("tool", tool-call index).
        self._open: tuple[str, int | None] | None = None
        self._tool_indexes: set[int] = set()
        self._stop_reason: str | None = None
        self._usage = TokenUsage()

    def feed(self, chunk: JsonObject) -> bytes:
        if self._ended:
            return b""
        events: list[bytes] = []
        if not self._started:
            self._started = True
            events.append(self._message_start(chunk.get("id") or ""))
        for choice in chunk.get("choices") or []:
            events.extend(self._delta_events(choice.get("delta") or {}))
            if choice.get("finish_reason") is not None:
                events.extend(self._close_block())
                self._stop_reason = _stop_reason(choice["finish_reason"])
        if isinstance(chunk.get("usage"), dict):
            self._usage = usage_from_hub(chunk["usage"])
            if self._stop_reason is not None:
                events.extend(self._message_end())
        return b"".join(events)

    def finish(self) -> bytes:
        if not self._started or self._ended:
            return b""
        if self._stop_reason is None:
            self._ended = True
            return b"".join(self._close_block())
        return b"".join(self._message_end())

    def _message_start(self, hub_id: str) -> bytes:
        message: JsonObject = {
            "id": _message_id(hub_id),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": anthropic_usage_block(TokenUsage()),
        }
        return _sse("message_start", {"type": "message_start", "message": message})

    def _delta_events(self, delta: JsonObject) -> list[bytes]:
        events: list[bytes] = []
        if delta.get("reasoning_content"):
            events.extend(self._open_block(("thinking", None), {"thinking": "", "signature": ""}))
            events.append(
                self._block_delta("thinking_delta", "thinking", delta["reasoning_content"])
            )
        if delta.get("content"):
            events.extend(self._open_block(("text", None), {"text": ""}))
            events.append(self._block_delta("text_delta", "text", delta["content"]))
        for call in delta.get("tool_calls") or []:
            events.extend(self._tool_call_events(call))
        return events

    def _tool_call_events(self, call: JsonObject) -> list[bytes]:
        index: int = call.get("index", 0)
        function = call.get("function") or {}
        events: list[bytes] = []
        if self._open != ("tool", index):
            if index in self._tool_indexes:
                # A block cannot be reopened: the upstream interleaved its tool calls.
                raise UnreadableUpstream()
            self._tool_indexes.add(index)
            start = {
                "id": call.get("id") or f"toolu_{self._block_count}",
                "name": function["name"],
                "input": {},
            }
            events.extend(self._open_block(("tool", index), start, kind="tool_use"))
        if function.get("arguments"):
            events.append(
                self._block_delta("input_json_delta", "partial_json", function["arguments"])
            )
        return events

    def _open_block(
        self, key: tuple[str, int | None], fields: JsonObject, kind: str | None = None
    ) -> list[bytes]:
        if self._open == key:
            return []
        events = self._close_block()
        self._open = key
        block = {"type": kind or key[0], **fields}
        start = {"type": "content_block_start", "index": self._block_count, "content_block": block}
        return [*events, _sse("content_block_start", start)]

    def _block_delta(self, kind: str, field: str, value: str) -> bytes:
        delta = {"type": kind, field: value}
        return _sse(
            "content_block_delta",
            {"type": "content_block_delta", "index": self._block_count, "delta": delta},
        )

    def _close_block(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        stop = _sse(
            "content_block_stop", {"type": "content_block_stop", "index": self._block_count}
        )
        self._block_count += 1
        return [stop]

    def _message_end(self) -> list[bytes]:
        closing = self._close_block()
        self._ended = True
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self._stop_reason, "stop_sequence": None},
            "usage": anthropic_usage_block(self._usage),
        }
        return [
            *closing,
            _sse("message_delta", delta),
            _sse("message_stop", {"type": "message_stop"}),
        ]
