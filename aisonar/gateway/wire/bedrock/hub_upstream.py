"""A hub request sent to Bedrock's Converse API (the model is in the URL, not the body).

Every hub field is translated or refused (`UnsupportedFeature`), with these choices:
- All system and developer messages make the one `system` list; consecutive turns of one role
  are merged (Converse wants them alternating); tool results join the user turn they fall in.
- A part's or a tool's `prompt_cache_breakpoint` (an OpenAI client's, or an Anthropic
  client's `cache_control`) becomes a `cachePoint` right after it: Claude's prompt caching.
- Images must come as base64 data URLs: Converse takes bytes or S3 locations, not URLs.
- `thinking_budget` and `reasoning_effort` become Claude's `thinking` in
  `additionalModelRequestFields`; other model families have no common switch and are refused.
- `response_format` with a JSON schema becomes `outputConfig.textFormat`; Converse has no
  schemaless JSON mode, so `json_object` is refused.
- `tool_choice: none` sends no tools (Converse has no such choice), unless the conversation
  holds tool calls, which Converse reads only with the tools declared.
- Earlier turns' `reasoning_content` is not sent (Claude takes it back only signed).
"""

from __future__ import annotations

import base64
import binascii

import orjson

from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.delivery_only import ignored_by
from aisonar.gateway.wire.hub import (
    SHAPE_ERRORS,
    JsonObject,
    UnsupportedFeature,
    malformed,
    present,
    refuse_unknown,
)

TARGET = "Bedrock"
REASONING_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768, "max": 65536}
MIN_THINKING_BUDGET = 1024
CACHE_POINT: JsonObject = {"cachePoint": {"type": "default"}}

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
    "stream",
    "thinking_budget",
    "reasoning_effort",
    "response_format",
}
_IGNORED = ignored_by("bedrock")
_NEUTRAL: JsonObject = {
    "n": 1,
    "logprobs": False,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "modalities": ["text"],
    "logit_bias": {},
}
_MESSAGE_KEYS = {
    "system": {"role", "content"},
    "developer": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls", "reasoning_content"},
    "tool": {"role", "content", "tool_call_id", "name"},
}
_PART_KEYS = {
    "text": {"type", "text", "prompt_cache_breakpoint"},
    "image_url": {"type", "image_url", "prompt_cache_breakpoint"},
}
_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}


def hub_request_to_converse(hub: JsonObject) -> JsonObject:
    """A hub request as a Converse request; refuses what Converse cannot do."""
    try:
        return _request(present(hub))
    except SHAPE_ERRORS as error:
        raise malformed(error) from None


def _request(hub: JsonObject) -> JsonObject:
    refused = [
        key
        for key, value in hub.items()
        if key not in _TRANSLATED
        and key not in _IGNORED
        and not (key in _NEUTRAL and value == _NEUTRAL[key])
    ]
    if refused:
        raise UnsupportedFeature(refused, TARGET)
    system, messages = _conversation(hub["messages"])
    request: JsonObject = {"messages": messages}
    if system:
        request["system"] = system
    request["inferenceConfig"] = _inference(hub)
    tools = _tool_config(hub, messages)
    if tools is not None:
        request["toolConfig"] = tools
    thinking = _thinking(hub, request["inferenceConfig"]["maxTokens"])
    if thinking is not None:
        request["additionalModelRequestFields"] = {"thinking": thinking}
    if "response_format" in hub:
        output = _output_config(hub["response_format"])
        if output is not None:
            request["outputConfig"] = output
    return request


def _inference(hub: JsonObject) -> JsonObject:
    config: JsonObject = {"maxTokens": hub.get("max_completion_tokens") or hub["max_tokens"]}
    if "temperature" in hub:
        config["temperature"] = hub["temperature"]
    if "top_p" in hub:
        config["topP"] = hub["top_p"]
    if "stop" in hub:
        config["stopSequences"] = [hub["stop"]] if isinstance(hub["stop"], str) else hub["stop"]
    return config


def _is_claude(model: str) -> bool:
    return "anthropic.claude" in model


def _thinking(hub: JsonObject, max_tokens: int) -> JsonObject | None:
    """Claude's extended thinking, the only reasoning switch Converse passes on."""
    if "thinking_budget" in hub:
        budget = hub["thinking_budget"]
        if budget < 0:
            raise UnsupportedFeature("thinking_budget", TARGET, "it takes a number of tokens")
        if budget and not _is_claude(hub["model"]):
            raise UnsupportedFeature("thinking_budget", TARGET, "only Claude models take one")
        return {"type": "enabled", "budget_tokens": budget} if budget else None
    effort = hub.get("reasoning_effort")
    if effort is None or effort in ("none", "minimal"):
        return None
    if not _is_claude(hub["model"]):
        raise UnsupportedFeature("reasoning_effort", TARGET, "only Claude models take one")
    if effort not in REASONING_BUDGETS:
        raise UnsupportedFeature("reasoning_effort", TARGET, f"unknown effort `{effort}`")
    budget = min(REASONING_BUDGETS[effort], max_tokens - 1)
    if budget < MIN_THINKING_BUDGET:
        detail = f"Claude's thinking needs max_tokens above {MIN_THINKING_BUDGET}"
        raise UnsupportedFeature("reasoning_effort", TARGET, detail)
    return {"type": "enabled", "budget_tokens": budget}


def _output_config(response_format: JsonObject) -> JsonObject | None:
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind != "json_schema":
        detail = "Converse takes a JSON schema, not schemaless JSON"
        raise UnsupportedFeature("response_format", TARGET, detail)
    spec = response_format["json_schema"]
    schema: JsonObject = {"schema": orjson.dumps(spec["schema"]).decode(), "name": spec["name"]}
    if spec.get("description"):
        schema["description"] = spec["description"]
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": schema}}}


# Conversation


def _conversation(messages: list[JsonObject]) -> tuple[list[JsonObject], list[JsonObject]]:
    system: list[JsonObject] = []
    turns: list[JsonObject] = []
    for index, raw in enumerate(messages):
        message, path = present(raw), f"messages[{index}]"
        role = message["role"]
        if role not in _MESSAGE_KEYS:
            raise UnsupportedFeature(f"{path}.role", TARGET, f"`{role}` messages")
        refuse_unknown(message, _MESSAGE_KEYS[role], TARGET, f"{path}.")
        if role in ("system", "developer"):
            system.extend(_blocks(message["content"], f"{path}.content", text_only=True))
        elif role == "user":
            _add_turn(turns, "user", _blocks(message["content"], f"{path}.content"))
        elif role == "assistant":
            _add_turn(turns, "assistant", _assistant_blocks(message, path))
        else:
            _add_turn(turns, "user", _tool_result(message, f"{path}.content"))
    return system, turns


def _add_turn(turns: list[JsonObject], role: str, blocks: list[JsonObject]) -> None:
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _blocks(
    content: str | list[JsonObject], path: str, *, text_only: bool = False
) -> list[JsonObject]:
    """Content as Converse blocks, each part followed by a cache point when it marks one.
    Empty text is left out: Converse refuses blank text blocks."""
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[JsonObject] = []
    for index, raw in enumerate(content):
        part, part_path = present(raw), f"{path}[{index}]"
        kind = part["type"]
        if kind not in _PART_KEYS or (text_only and kind != "text"):
            raise UnsupportedFeature(f"{part_path}.type", TARGET, f"`{kind}` content parts here")
        refuse_unknown(part, _PART_KEYS[kind], TARGET, f"{part_path}.")
        if kind == "text" and part["text"]:
            blocks.append({"text": part["text"]})
        elif kind == "image_url":
            blocks.append(_image(part["image_url"]["url"], f"{part_path}.image_url.url"))
        if "prompt_cache_breakpoint" in part and blocks:
            blocks.append(CACHE_POINT)
    return blocks


def _image(url: str, path: str) -> JsonObject:
    header, comma, data = url.partition(",")
    media_type = header.removeprefix("data:").removesuffix(";base64")
    if not (url.startswith("data:") and comma and header.endswith(";base64")):
        raise UnsupportedFeature(path, TARGET, "Converse takes images as base64 data URLs")
    if media_type not in _IMAGE_FORMATS:
        raise InvalidRequest(f"{path}: Converse takes PNG, JPEG, GIF or WebP images.", param=path)
    try:
        base64.b64decode(data, validate=True)
    except binascii.Error:
        raise InvalidRequest(f"{path}: the image is not valid base64.", param=path) from None
    return {"image": {"format": _IMAGE_FORMATS[media_type], "source": {"bytes": data}}}


def _assistant_blocks(message: JsonObject, path: str) -> list[JsonObject]:
    blocks = _blocks(message.get("content") or "", f"{path}.content", text_only=True)
    for index, call in enumerate(message.get("tool_calls", [])):
        blocks.append(_tool_use(present(call), f"{path}.tool_calls[{index}]"))
    return blocks


def _tool_use(call: JsonObject, path: str) -> JsonObject:
    if call.get("type", "function") != "function":
        raise UnsupportedFeature(f"{path}.type", TARGET, f"`{call['type']}` tool calls")
    refuse_unknown(call, {"id", "type", "function"}, TARGET, f"{path}.")
    function = call["function"]
    arguments = function.get("arguments") or ""
    try:
        parsed = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequest(
            f"{path}.function.arguments: tool call arguments must be a JSON object.",
            param="messages",
        )
    return {"toolUse": {"toolUseId": call["id"], "name": function["name"], "input": parsed}}


def _tool_result(message: JsonObject, path: str) -> list[JsonObject]:
    """A tool message as a `toolResult` block, then a cache point if its content marks one
    (Converse takes cache points beside the result, not inside it)."""
    content = message["content"]
    blocks = _blocks(content, path) if content else []
    inner = [block for block in blocks if "cachePoint" not in block]
    # A tool's empty output is still an answer: Converse wants at least one block.
    result = {"toolUseId": message["tool_call_id"], "content": inner or [{"text": ""}]}
    return [{"toolResult": result}, *([CACHE_POINT] if len(inner) < len(blocks) else [])]


def _has_tool_blocks(messages: list[JsonObject]) -> bool:
    return any(
        "toolUse" in block or "toolResult" in block
        for message in messages
        for block in message["content"]
    )


def _tool_config(hub: JsonObject, messages: list[JsonObject]) -> JsonObject | None:
    if not hub.get("tools"):
        return None
    choice = hub.get("tool_choice")
    if choice == "none":
        if _has_tool_blocks(messages):
            detail = "Converse has no `none` choice for a conversation with tool calls"
            raise UnsupportedFeature("tool_choice", TARGET, detail)
        return None
    tools = [_tool(present(tool), index) for index, tool in enumerate(hub["tools"])]
    config: JsonObject = {"tools": [entry for pair in tools for entry in pair]}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        config["toolChoice"] = {"tool": {"name": choice["function"]["name"]}}
    elif choice not in (None, "auto"):
        raise InvalidRequest(f"tool_choice: unknown `{choice}`.", param="tool_choice")
    return config


def _tool(tool: JsonObject, index: int) -> list[JsonObject]:
    """A tool's spec, then a cache point when the tool marks one."""
    path = f"tools[{index}]"
    if tool["type"] != "function":
        raise UnsupportedFeature(f"{path}.type", TARGET, f"`{tool['type']}` tools")
    refuse_unknown(tool, {"type", "function", "prompt_cache_breakpoint"}, TARGET, f"{path}.")
    function = present(tool["function"])
    refuse_unknown(
        function, {"name", "description", "parameters", "strict"}, TARGET, f"{path}.function."
    )
    spec: JsonObject = {
        "name": function["name"],
        "inputSchema": {"json": function.get("parameters", {"type": "object", "properties": {}})},
    }
    if function.get("description"):
        spec["description"] = function["description"]
    if function.get("strict"):
        spec["strict"] = True
    return [{"toolSpec": spec}, *([CACHE_POINT] if "prompt_cache_breakpoint" in tool else [])]
