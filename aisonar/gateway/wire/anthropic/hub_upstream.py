"""A hub request sent to an Anthropic upstream (Messages, API version 2023-06-01), and its
answer, whole or streamed, read back into the hub.

Requests: every hub field is translated or refused (`UnsupportedFeature`), with these
choices:
- All system and developer messages, wherever they stand, make the one `system` prompt.
- Consecutive turns of one role are merged; tool results join the user turn they fall in.
- Earlier turns' `reasoning_content` is not sent: Anthropic only takes back thinking with
  its signature, which the hub does not carry.
- Fields without effect on the answer are ignored: the delivery-only ones Anthropic has no
  place for (`delivery`: `stream_options`, `store`, `metadata`, `service_tier`, the prompt
  cache settings; the pipeline drops and names them first) and an image's `detail`. A
  part's (or a tool's) `prompt_cache_breakpoint` becomes `cache_control` (Anthropic's
  default lifetime).
- `reasoning_effort` becomes a thinking budget (`REASONING_BUDGETS`), kept below
  `max_tokens` as Anthropic requires; `none` and `minimal` mean no thinking. An explicit
  `thinking_budget` wins and is passed as given.
- `response_format` becomes structured outputs (`output_config.format`) or a forced tool
  call whose input is the answer (`structured`); the answer readers turn that
  call back into the message's JSON text.
- Parameters at their neutral value (`n` 1, penalties 0, `logprobs` false, text
  `modalities`, empty `logit_bias`) are accepted; others are refused.
- `temperature` above 1 is refused rather than clamped: Anthropic's range is 0 to 1.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from aisonar.gateway.errors import InvalidRequest, UpstreamUnavailable
from aisonar.gateway.sse import event_data
from aisonar.gateway.wire.anthropic.format import anthropic_usage, merge_anthropic_usage
from aisonar.gateway.wire.anthropic.structured import is_json_tool, structured_request
from aisonar.gateway.wire.delivery_only import ignored_by
from aisonar.gateway.wire.hub import (
    SHAPE_ERRORS,
    JsonObject,
    UnsupportedFeature,
    hub_chunk,
    hub_usage,
    malformed,
    present,
    refuse_unknown,
)
from aisonar.token_usage import TokenUsage

TARGET = "Anthropic"
REASONING_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768, "max": 65536}
MIN_THINKING_BUDGET = 1024

_TRANSLATED = {
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "temperature",
    "top_p",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "stream",
    "thinking_budget",
    "reasoning_effort",
    "response_format",
    "user",
    "safety_identifier",
}
# The delivery-only fields Anthropic has no place for (see `delivery`).
_IGNORED = ignored_by("anthropic")
_NEUTRAL: JsonObject = {
    "n": 1,
    "logprobs": False,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "modalities": ["text"],
    "logit_bias": {},
}
_WHY_REFUSED = {
    "n": "Anthropic answers with one choice",
    "logprobs": "Anthropic reports no log probabilities",
    "top_logprobs": "Anthropic reports no log probabilities",
}
_MESSAGE_KEYS = {
    "system": {"role", "content"},
    "developer": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls", "reasoning_content"},
    # A tool message's `name` is the function's, already known from its call.
    "tool": {"role", "content", "tool_call_id", "name"},
}
_PART_KEYS = {
    "text": {"type", "text", "prompt_cache_breakpoint"},
    "image_url": {"type", "image_url", "prompt_cache_breakpoint"},
}
_TOOL_CHOICES = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class UpstreamStreamError(UpstreamUnavailable):
    """Anthropic sent an `error` event in the middle of a stream."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"The upstream provider failed mid-stream ({kind}): {message}")
        self.upstream_kind = kind

    @property
    def recorded_message(self) -> str:
        # The upstream's text may quote the request; keep only what we know is safe.
        return f"upstream stream error ({self.upstream_kind})"


# Requests: hub -> Anthropic


def hub_request_to_anthropic(hub: JsonObject) -> JsonObject:
    """A hub request as a Messages request; refuses what Anthropic cannot do. The hub
    carries the gateway's output bound (`with_output_limit`), which Anthropic requires."""
    try:
        return _request(present(hub))
    except SHAPE_ERRORS as error:
        raise malformed(error) from None


def _refuse_untranslatable(hub: JsonObject) -> None:
    refused = [
        key
        for key, value in hub.items()
        if key not in _TRANSLATED
        and key not in _IGNORED
        and not (key in _NEUTRAL and value == _NEUTRAL[key])
    ]
    if len(refused) == 1:
        raise UnsupportedFeature(refused[0], TARGET, _WHY_REFUSED.get(refused[0], ""))
    if refused:
        raise UnsupportedFeature(refused, TARGET)


def _request(hub: JsonObject) -> JsonObject:
    _refuse_untranslatable(hub)
    system, messages = _conversation(hub["messages"])
    max_tokens: int = hub.get("max_completion_tokens") or hub["max_tokens"]
    request: JsonObject = {"model": hub["model"], "max_tokens": max_tokens, "messages": messages}
    if system:
        request["system"] = system
    if "stop" in hub:
        request["stop_sequences"] = [hub["stop"]] if isinstance(hub["stop"], str) else hub["stop"]
    if "temperature" in hub:
        request["temperature"] = _temperature(hub["temperature"])
    if "top_p" in hub:
        request["top_p"] = hub["top_p"]
    if hub.get("stream"):
        request["stream"] = True
    thinking = _thinking(hub, max_tokens)
    if thinking is not None:
        request["thinking"] = thinking
    user = hub.get("user", hub.get("safety_identifier"))
    if user is not None:
        request["metadata"] = {"user_id": user}
    if hub.get("tools"):
        request.update(_tools(hub))
    request.update(structured_request(hub, request.get("tools", []), thinking is not None))
    return request


def _tools(hub: JsonObject) -> JsonObject:
    """Tools and the choice among them (without tools, a choice has nothing to choose)."""
    tools = [_tool(present(tool), index) for index, tool in enumerate(hub["tools"])]
    choice = _tool_choice(hub.get("tool_choice"), hub.get("parallel_tool_calls", True))
    return {"tools": tools} if choice is None else {"tools": tools, "tool_choice": choice}


def _temperature(value: float) -> float:
    if value > 1:
        raise UnsupportedFeature("temperature", TARGET, f"Anthropic accepts 0 to 1, not {value}")
    return value


def _thinking(hub: JsonObject, max_tokens: int) -> JsonObject | None:
    if "thinking_budget" in hub:
        budget = hub["thinking_budget"]
        if budget < 0:
            raise UnsupportedFeature("thinking_budget", TARGET, "it takes a number of tokens")
        return {"type": "enabled", "budget_tokens": budget} if budget else None
    effort = hub.get("reasoning_effort")
    if effort is None or effort in ("none", "minimal"):
        return None
    if effort not in REASONING_BUDGETS:
        raise UnsupportedFeature("reasoning_effort", TARGET, f"unknown effort `{effort}`")
    budget = min(REASONING_BUDGETS[effort], max_tokens - 1)
    if budget < MIN_THINKING_BUDGET:
        detail = f"Anthropic thinking needs max_tokens above {MIN_THINKING_BUDGET}"
        raise UnsupportedFeature("reasoning_effort", TARGET, detail)
    return {"type": "enabled", "budget_tokens": budget}


def _conversation(messages: list[JsonObject]) -> tuple[list[JsonObject], list[JsonObject]]:
    """The system prompt's blocks and the turns, consecutive turns of one role merged."""
    system: list[JsonObject] = []
    turns: list[JsonObject] = []
    for index, raw in enumerate(messages):
        message, path = present(raw), f"messages[{index}]"
        role = message["role"]
        if role not in _MESSAGE_KEYS:
            raise UnsupportedFeature(f"{path}.role", TARGET, f"`{role}` messages")
        refuse_unknown(message, _MESSAGE_KEYS[role], TARGET, f"{path}.")
        if role in ("system", "developer"):
            system.extend(_text_blocks(message["content"], f"{path}.content"))
        elif role == "user":
            _add_turn(turns, "user", _user_blocks(message["content"], f"{path}.content"))
        elif role == "assistant":
            _add_turn(turns, "assistant", _assistant_blocks(message, path))
        else:
            _add_turn(turns, "user", [_tool_result(message, f"{path}.content")])
    return system, turns


def _add_turn(turns: list[JsonObject], role: str, blocks: list[JsonObject]) -> None:
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _parts(content: str | list[JsonObject], path: str) -> list[tuple[JsonObject, str]]:
    """Content as checked parts with their paths; a string is one text part. Empty text is
    left out: Anthropic refuses empty text blocks."""
    if isinstance(content, str):
        return [({"type": "text", "text": content}, path)] if content else []
    parts: list[tuple[JsonObject, str]] = []
    for index, raw in enumerate(content):
        part, part_path = present(raw), f"{path}[{index}]"
        kind = part["type"]
        if kind not in _PART_KEYS:
            raise UnsupportedFeature(f"{part_path}.type", TARGET, f"`{kind}` content parts")
        refuse_unknown(part, _PART_KEYS[kind], TARGET, f"{part_path}.")
        if kind != "text" or part["text"]:
            parts.append((part, part_path))
    return parts


def _with_cache_hint(part: JsonObject, block: JsonObject) -> JsonObject:
    if "prompt_cache_breakpoint" in part:
        block["cache_control"] = {"type": "ephemeral"}
    return block


def _text_blocks(content: str | list[JsonObject], path: str) -> list[JsonObject]:
    blocks: list[JsonObject] = []
    for part, part_path in _parts(content, path):
        if part["type"] != "text":
            raise UnsupportedFeature(f"{part_path}.type", TARGET, "only text is allowed here")
        blocks.append(_with_cache_hint(part, {"type": "text", "text": part["text"]}))
    return blocks


def _user_blocks(content: str | list[JsonObject], path: str) -> list[JsonObject]:
    blocks: list[JsonObject] = []
    for part, part_path in _parts(content, path):
        if part["type"] == "text":
            block = {"type": "text", "text": part["text"]}
        else:
            source = _image_source(part["image_url"]["url"], f"{part_path}.image_url.url")
            block = {"type": "image", "source": source}
        blocks.append(_with_cache_hint(part, block))
    return blocks


def _image_source(url: str, path: str) -> JsonObject:
    if url.startswith(("http://", "https://")):
        return {"type": "url", "url": url}
    header, comma, data = url.partition(",")
    if url.startswith("data:") and comma and header.endswith(";base64"):
        media_type = header.removeprefix("data:").removesuffix(";base64")
        return {"type": "base64", "media_type": media_type, "data": data}
    raise InvalidRequest(f"{path}: an image is an http(s) URL or a base64 data URL.", param=path)


def _assistant_blocks(message: JsonObject, path: str) -> list[JsonObject]:
    blocks = _text_blocks(message.get("content", ""), f"{path}.content")
    for index, call in enumerate(message.get("tool_calls", [])):
        blocks.append(_tool_use(present(call), f"{path}.tool_calls[{index}]"))
    return blocks


def _tool_use(call: JsonObject, path: str) -> JsonObject:
    if call.get("type", "function") != "function":
        raise UnsupportedFeature(f"{path}.type", TARGET, f"`{call['type']}` tool calls")
    refuse_unknown(call, {"id", "type", "function"}, TARGET, f"{path}.")
    function = call["function"]
    return {
        "type": "tool_use",
        "id": call["id"],
        "name": function["name"],
        "input": _arguments(function.get("arguments") or "", f"{path}.function.arguments"),
    }


def _arguments(arguments: str, path: str) -> JsonObject:
    try:
        parsed = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequest(
            f"{path}: tool call arguments must be a JSON object.", param="messages"
        )
    return parsed


def _tool_result(message: JsonObject, path: str) -> JsonObject:
    """A tool message as a `tool_result`, its images (a Gemini function response's parts, a
    Responses function output's `input_image`) as image blocks beside its text."""
    content = message["content"]
    return {
        "type": "tool_result",
        "tool_use_id": message["tool_call_id"],
        "content": content if isinstance(content, str) else _user_blocks(content, path),
    }


def _tool(tool: JsonObject, index: int) -> JsonObject:
    path = f"tools[{index}]"
    if tool["type"] != "function":
        raise UnsupportedFeature(f"{path}.type", TARGET, f"`{tool['type']}` tools")
    refuse_unknown(tool, {"type", "function", "prompt_cache_breakpoint"}, TARGET, f"{path}.")
    function = present(tool["function"])
    refuse_unknown(
        function, {"name", "description", "parameters", "strict"}, TARGET, f"{path}.function."
    )
    converted: JsonObject = {
        "name": function["name"],
        "input_schema": function.get("parameters", {"type": "object", "properties": {}}),
    }
    if "description" in function:
        converted["description"] = function["description"]
    if function.get("strict"):
        converted["strict"] = True
    return _with_cache_hint(tool, converted)


def _tool_choice(choice: str | JsonObject | None, parallel: bool) -> JsonObject | None:
    converted: JsonObject | None
    if choice is None:
        converted = None if parallel else {"type": "auto"}
    elif isinstance(choice, str):
        if choice not in _TOOL_CHOICES:
            raise InvalidRequest(f"tool_choice: unknown `{choice}`.", param="tool_choice")
        converted = dict(_TOOL_CHOICES[choice])
    elif choice.get("type") == "function":
        converted = {"type": "tool", "name": choice["function"]["name"]}
    else:
        raise UnsupportedFeature("tool_choice", TARGET, f"`{choice.get('type')}` tool choice")
    if converted is not None and not parallel and converted["type"] != "none":
        converted["disable_parallel_tool_use"] = True
    return converted


# Answers: Anthropic -> hub


def _finish_reason(stop_reason: str | None, *, json_answer: bool = False) -> str:
    """The hub's finish reason; `json_answer`: the JSON tool (`structured`) was
    called and no other tool, so its `tool_use` stop ends a whole answer."""
    if stop_reason == "tool_use" and json_answer:
        return "stop"
    return _FINISH_REASONS.get(stop_reason or "", "stop")


def anthropic_response_to_hub(doc: JsonObject) -> JsonObject:
    """A Messages answer as a hub `chat.completion`."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JsonObject] = []
    json_answer = False
    for block in doc["content"]:
        if block["type"] == "text":
            texts.append(block["text"])
        elif block["type"] == "thinking":
            thoughts.append(block["thinking"])
        elif block["type"] == "tool_use" and is_json_tool(block["name"]):
            texts.append(orjson.dumps(block["input"]).decode())
            json_answer = True
        elif block["type"] == "tool_use":
            calls.append(_tool_call(block))
    message: JsonObject = {
        "role": "assistant",
        "content": None if calls and not texts else "".join(texts),
    }
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if calls:
        message["tool_calls"] = calls
    finish_reason = _finish_reason(doc["stop_reason"], json_answer=json_answer and not calls)
    choice = {"index": 0, "message": message, "finish_reason": finish_reason}
    return {
        "id": doc["id"],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": doc["model"],
        "choices": [choice],
        "usage": hub_usage(anthropic_usage(doc["usage"])),
    }


def _tool_call(block: JsonObject) -> JsonObject:
    arguments = orjson.dumps(block["input"]).decode()
    return {
        "id": block["id"],
        "type": "function",
        "function": {"name": block["name"], "arguments": arguments},
    }


class AnthropicStreamToHub:
    """Messages stream events in, hub chunks out, one event at a time.

    `usage` stays None until `message_delta` brings the final counts: a stream cut before
    it has no real usage and is estimated from what was delivered."""

    def __init__(self) -> None:
        self.usage: TokenUsage | None = None
        self._id = ""
        self._model = ""
        self._created = 0
        self._usage_block: JsonObject = {}
        self._stop_reason: str | None = None
        # Anthropic's content block index -> the hub's tool-call index.
        self._tool_indexes: dict[int, int] = {}
        # Content blocks of the JSON tool, whose input is streamed as the answer's text.
        self._json_blocks: set[int] = set()
        self._ended = False

    def feed(self, event: bytes) -> list[JsonObject]:
        data = event_data(event)
        if not data:
            return []
        payload: Any = orjson.loads(data)
        match payload["type"]:
            case "message_start":
                return self._start(payload["message"])
            case "content_block_start":
                return self._block_start(payload["index"], payload["content_block"])
            case "content_block_delta":
                return self._block_delta(payload["index"], payload["delta"])
            case "message_delta":
                self._message_delta(payload)
                return []
            case "message_stop":
                return self._end()
            case "error":
                error = payload["error"]
                raise UpstreamStreamError(error.get("type", "error"), error.get("message", ""))
        # ping, content_block_stop: nothing to pass on.
        return []

    def finish(self) -> list[JsonObject]:
        """What is owed when the stream ended: a stream that reached `message_delta` but
        lost its `message_stop` is complete in substance."""
        return self._end() if self.usage is not None else []

    def _chunk(
        self, delta: JsonObject | None = None, finish_reason: str | None = None
    ) -> JsonObject:
        return hub_chunk(
            self._id, self._model, self._created, delta=delta, finish_reason=finish_reason
        )

    def _start(self, message: JsonObject) -> list[JsonObject]:
        self._id, self._model = message["id"], message["model"]
        self._created = int(time.time())
        self._usage_block = message.get("usage") or {}
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, index: int, block: JsonObject) -> list[JsonObject]:
        if block["type"] != "tool_use":
            return []
        if is_json_tool(block["name"]):
            self._json_blocks.add(index)
            return []
        tool_index = self._tool_indexes[index] = len(self._tool_indexes)
        call = {
            "index": tool_index,
            "id": block["id"],
            "type": "function",
            "function": {"name": block["name"], "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, index: int, delta: JsonObject) -> list[JsonObject]:
        kind = delta["type"]
        if kind == "text_delta":
            return [self._chunk({"content": delta["text"]})]
        if kind == "thinking_delta":
            return [self._chunk({"reasoning_content": delta["thinking"]})]
        if kind == "input_json_delta" and delta["partial_json"] and index in self._json_blocks:
            return [self._chunk({"content": delta["partial_json"]})]
        if kind == "input_json_delta" and delta["partial_json"]:
            arguments = {"arguments": delta["partial_json"]}
            piece = {"index": self._tool_indexes[index], "function": arguments}
            return [self._chunk({"tool_calls": [piece]})]
        # signature_delta, citations_delta, empty input_json_delta: nothing to pass on.
        return []

    def _message_delta(self, payload: JsonObject) -> None:
        self._stop_reason = payload["delta"].get("stop_reason")
        self._usage_block = merge_anthropic_usage(self._usage_block, payload.get("usage") or {})
        self.usage = anthropic_usage(self._usage_block)

    def _end(self) -> list[JsonObject]:
        if self._ended:
            return []
        self._ended = True
        usage = hub_usage(anthropic_usage(self._usage_block))
        return [
            self._chunk(
                finish_reason=_finish_reason(
                    self._stop_reason,
                    json_answer=bool(self._json_blocks) and not self._tool_indexes,
                )
            ),
            hub_chunk(self._id, self._model, self._created, usage=usage),
        ]
