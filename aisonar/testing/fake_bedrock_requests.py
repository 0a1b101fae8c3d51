"""Converse requests as the fake Bedrock reads them: validated as Bedrock validates them (a
`ValidationException` naming what is wrong), then turned into the chat request the shared
reply maker (`fake_replies.make_reply`) answers, plus what only Converse has: stop sequences
and the prompt prefix its cache points mark."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from aisonar.testing.fake_aws import AwsError
from aisonar.testing.fake_native import one_answer_request
from aisonar.testing.fake_replies import ChatRequest, JsonObject
from aisonar.usage.tokens import count_text_tokens

_BLOCK_KINDS = {"text", "image", "toolUse", "toolResult", "cachePoint", "reasoningContent"}
_SYSTEM_KINDS = {"text", "cachePoint"}
_REQUEST_FIELDS = {
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "additionalModelRequestFields",
    "outputConfig",
}
_INFERENCE_FIELDS = {"maxTokens", "temperature", "topP", "stopSequences"}


@dataclass(frozen=True)
class ConverseRequest:
    chat: ChatRequest
    stop_sequences: tuple[str, ...]
    # The text up to the last cache point, and its tokens (0 without a cache point).
    cached_prefix: str
    cached_tokens: int


def invalid(message: str) -> AwsError:
    return AwsError(400, "ValidationException", message)


def _object(value: Any, where: str) -> JsonObject:
    if not isinstance(value, dict):
        raise invalid(f"{where} must be an object.")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise invalid(f"{where} must be a non-empty list.")
    return value


def _block(value: Any, where: str, kinds: set[str]) -> tuple[str, Any]:
    block = _object(value, where)
    if len(block) != 1 or next(iter(block)) not in kinds:
        raise invalid(f"{where} must hold exactly one of: {', '.join(sorted(kinds))}.")
    kind, inner = next(iter(block.items()))
    if kind == "text" and (not isinstance(inner, str) or not inner.strip()):
        raise invalid(f"The text field in the ContentBlock object at {where} is blank.")
    if kind == "cachePoint" and inner != {"type": "default"}:
        raise invalid(f"{where}.cachePoint must be {{'type': 'default'}}.")
    if kind == "image":
        _check_image(_object(inner, f"{where}.image"), where)
    return kind, inner


def _check_image(image: JsonObject, where: str) -> None:
    if image.get("format") not in ("png", "jpeg", "gif", "webp"):
        raise invalid(f"{where}.image.format must be png, jpeg, gif or webp.")
    source = _object(image.get("source"), f"{where}.image.source")
    try:
        base64.b64decode(source.get("bytes", ""), validate=True)
    except (binascii.Error, TypeError):
        raise invalid(f"{where}.image.source.bytes must be base64.") from None


def _tool_result_text(result: JsonObject, where: str) -> str:
    if not isinstance(result.get("toolUseId"), str):
        raise invalid(f"{where}.toolResult.toolUseId is required.")
    pieces = _list(result.get("content"), f"{where}.toolResult.content")
    return " ".join(str(piece.get("text", "")) for piece in pieces if isinstance(piece, dict))


def _chat_turn(turn: JsonObject, where: str, tools_declared: bool) -> list[JsonObject]:
    role = turn.get("role")
    texts: list[str] = []
    results: list[JsonObject] = []
    calls: list[JsonObject] = []
    for index, raw in enumerate(_list(turn.get("content"), f"{where}.content")):
        kind, inner = _block(raw, f"{where}.content[{index}]", _BLOCK_KINDS)
        if kind in ("toolUse", "toolResult") and not tools_declared:
            raise invalid(
                "The toolConfig field must be defined when using toolUse and toolResult content"
                " blocks."
            )
        if kind == "text":
            texts.append(inner)
        elif kind == "toolResult" and role == "user":
            results.append({"role": "tool", "content": _tool_result_text(inner, where)})
        elif kind == "toolUse" and role == "assistant":
            arguments = orjson.dumps(inner["input"]).decode()
            function = {"name": inner["name"], "arguments": arguments}
            calls.append({"id": inner["toolUseId"], "type": "function", "function": function})
        elif kind in ("toolResult", "toolUse"):
            raise invalid(f"{where}: a {kind} block cannot be in a {role} message.")
    message: JsonObject = {"role": role, "content": " ".join(texts)}
    if calls:
        message["tool_calls"] = calls
    return [*results, message] if texts or calls or not results else results


def _messages(body: JsonObject, tools_declared: bool) -> list[JsonObject]:
    turns = _list(body.get("messages"), "messages")
    chat: list[JsonObject] = []
    previous = None
    for index, raw in enumerate(turns):
        turn = _object(raw, f"messages[{index}]")
        role = turn.get("role")
        if role not in ("user", "assistant"):
            raise invalid(f"messages[{index}].role must be user or assistant.")
        if index == 0 and role != "user":
            raise invalid("A conversation must start with a user message.")
        if role == previous:
            raise invalid("A conversation must alternate between user and assistant roles.")
        previous = role
        chat.extend(_chat_turn(turn, f"messages[{index}]", tools_declared))
    return chat


def _cached_prefix(body: JsonObject) -> str:
    """The text before the request's last cache point (system first, then the turns)."""
    texts: list[str] = []
    prefix = ""
    blocks = [*body.get("system", []), *(b for t in body["messages"] for b in t["content"])]
    for block in blocks:
        if "cachePoint" in block:
            prefix = " ".join(texts)
        elif "text" in block:
            texts.append(block["text"])
        elif "toolResult" in block:
            texts.append(orjson.dumps(block["toolResult"]).decode())
    return prefix


def _tools(body: JsonObject) -> dict[str, JsonObject]:
    if "toolConfig" not in body:
        return {}
    config = _object(body["toolConfig"], "toolConfig")
    tools: dict[str, JsonObject] = {}
    for index, raw in enumerate(_list(config.get("tools"), "toolConfig.tools")):
        spec = _object(_object(raw, f"toolConfig.tools[{index}]").get("toolSpec"), "toolSpec")
        schema = _object(spec.get("inputSchema"), "toolSpec.inputSchema").get("json")
        if not isinstance(spec.get("name"), str) or not isinstance(schema, dict):
            raise invalid(f"toolConfig.tools[{index}] needs a name and inputSchema.json.")
        tools[spec["name"]] = schema
    return tools


def _tool_to_call(body: JsonObject, tools: dict[str, JsonObject], last: JsonObject) -> str | None:
    if not tools or last.get("role") == "tool":
        return None
    choice = body["toolConfig"].get("toolChoice") or {"auto": {}}
    if "tool" in choice:
        name = choice["tool"].get("name")
        if name not in tools:
            raise invalid(f"toolChoice names an unknown tool {name!r}.")
        return str(name)
    return next(iter(tools))


def _output_schema(body: JsonObject) -> JsonObject | None:
    output = body.get("outputConfig")
    if output is None:
        return None
    text_format = _object(_object(output, "outputConfig").get("textFormat"), "textFormat")
    schema = text_format.get("structure", {}).get("jsonSchema", {}).get("schema")
    if text_format.get("type") != "json_schema" or not isinstance(schema, str):
        raise invalid("outputConfig.textFormat needs a json_schema structure.")
    parsed: JsonObject = orjson.loads(schema)
    return parsed


def parse_converse(model: str, body: Any) -> ConverseRequest:
    body = _object(body, "The request body")
    unknown = sorted(set(body) - _REQUEST_FIELDS)
    if unknown:
        raise invalid(f"Unknown field: {unknown[0]}.")
    inference = _object(body.get("inferenceConfig", {}), "inferenceConfig")
    if set(inference) - _INFERENCE_FIELDS:
        raise invalid(
            f"Unknown inferenceConfig field: {sorted(set(inference) - _INFERENCE_FIELDS)[0]}."
        )
    max_tokens = inference.get("maxTokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise invalid("inferenceConfig.maxTokens must be a positive integer.")
    tools = _tools(body)
    system = [
        _block(b, f"system[{i}]", _SYSTEM_KINDS) for i, b in enumerate(body.get("system", []))
    ]
    system_text = " ".join(inner for kind, inner in system if kind == "text")
    messages = _messages(body, bool(tools))
    if system_text:
        messages.insert(0, {"role": "system", "content": system_text})
    tool_name = _tool_to_call(body, tools, messages[-1])
    schema = _output_schema(body)
    chat = one_answer_request(
        {},
        model,
        messages,
        max_tokens=max_tokens,
        tool_name=tool_name,
        json_reply=schema is not None,
        schema=tools[tool_name] if tool_name is not None else schema,
    )
    prefix = _cached_prefix(body)
    stops = tuple(inference.get("stopSequences", ()))
    return ConverseRequest(chat, stops, prefix, count_text_tokens(prefix, model) if prefix else 0)
