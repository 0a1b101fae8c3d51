"""Hub requests sent to a Gemini upstream (generateContent); its answers are read back by
`hub_upstream_replies`.

The model and whether to stream go in the URL, so the body carries neither. What Gemini
cannot express is refused by name (`UnsupportedFeature`), never dropped, but for the
delivery-only fields of `delivery`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson

from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.delivery_only import ignored_by
from aisonar.gateway.wire.hub import JsonObject, UnsupportedFeature

TARGET = "Gemini"

_TRANSLATED = frozenset(
    {
        "messages",
        "tools",
        "tool_choice",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "response_format",
        "thinking_budget",
        "reasoning_effort",
    }
)
# In the URL; and the delivery-only fields Gemini has no place for (see `delivery`).
_IGNORED = frozenset({"model", "stream"}) | ignored_by("gemini")
_KNOWN = _TRANSLATED | _IGNORED
# OpenAI parameters with no Gemini equivalent, and the values of them that ask for nothing.
# Log probabilities: Gemini has them, but their answer would need translating back too.
_DEFAULT_ONLY: dict[str, Callable[[Any], bool]] = {
    "logprobs": lambda value: value is False,
    "top_logprobs": lambda value: False,
    "logit_bias": lambda value: not value,
    "modalities": lambda value: value == ["text"],
    "audio": lambda value: False,
    "prediction": lambda value: False,
}
_RENAMED_GENERATION_FIELDS = {
    "temperature": "temperature",
    "top_p": "topP",
    "n": "candidateCount",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
# OpenAI's reasoning efforts as thinking budgets in tokens: points inside the range every
# Gemini 2.5 model accepts (Pro: 128 to 32768; Flash: up to 24576).
_EFFORT_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}
_MESSAGE_FIELDS = frozenset(
    # `annotations` (citations of an earlier answer) and `reasoning_content` are read and
    # dropped: Gemini takes no thinking text back (only its own signatures, which the hub
    # does not carry).
    {"role", "content", "tool_calls", "tool_call_id", "refusal", "annotations"}
    | {"reasoning_content"}
)
_FUNCTION_FIELDS = frozenset({"name", "description", "parameters", "strict"})
_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
# Gemini needs the type of an image it fetches; the types it reads, by extension.
_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
}
# Gemini 3 refuses a function call in history without the thought signature it wrote; for
# calls it did not write (another model's, or rebuilt from the hub, which drops signatures)
# Google documents this value to skip the check.
_FOREIGN_SIGNATURE = "skip_thought_signature_validator"


# Request: hub -> Gemini


def hub_request_to_gemini(hub: JsonObject) -> JsonObject:
    request = {name: value for name, value in hub.items() if value is not None}
    _refuse_untranslatable(request)
    system, contents = _contents(request.get("messages"))
    body: JsonObject = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if request.get("tools"):
        body["tools"] = [{"functionDeclarations": _declarations(request["tools"])}]
    if "tool_choice" in request:
        body["toolConfig"] = _tool_config(request["tool_choice"])
    config = _generation_config(request)
    if config:
        body["generationConfig"] = config
    return body


def _refuse_untranslatable(request: JsonObject) -> None:
    refused = [
        name
        for name, value in request.items()
        if (not _DEFAULT_ONLY[name](value) if name in _DEFAULT_ONLY else name not in _KNOWN)
    ]
    if refused:
        raise UnsupportedFeature(refused, TARGET)


def _contents(messages: Any) -> tuple[list[JsonObject], list[JsonObject]]:
    """The system parts, and the turns: consecutive turns of one role merged, as Gemini
    wants; tool results are user turns."""
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("`messages` must be a non-empty list.", param="messages")
    system: list[JsonObject] = []
    contents: list[JsonObject] = []
    # The function name of each tool call so far: Gemini names the function it answers.
    names: dict[str, str] = {}
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"`{where}` must be an object.", param=where)
        _refuse_unknown_fields(message, where)
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_parts(message.get("content"), where))
        elif role == "user":
            _append(contents, "user", _user_parts(message.get("content"), where))
        elif role == "assistant":
            _append(contents, "model", _model_parts(message, names, where))
        elif role == "tool":
            _append(contents, "user", [_function_response(message, names, where)])
        else:
            raise UnsupportedFeature(f"{where}.role", TARGET, f"role {role!r}")
    return system, contents


def _refuse_unknown_fields(message: JsonObject, where: str) -> None:
    for name, value in message.items():
        if value is not None and name not in _MESSAGE_FIELDS:
            raise UnsupportedFeature(f"{where}.{name}", TARGET)


def _append(contents: list[JsonObject], role: str, parts: list[JsonObject]) -> None:
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _content_list(content: Any, where: str) -> list[Any]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise InvalidRequest(f"`{where}.content` must be a string or a list.", param=where)
    return content


def _kind(piece: Any) -> Any:
    return piece.get("type") if isinstance(piece, dict) else None


def _text_parts(content: Any, where: str) -> list[JsonObject]:
    parts: list[JsonObject] = []
    for j, piece in enumerate(_content_list(content, where)):
        here = f"{where}.content[{j}]"
        if _kind(piece) not in ("text", "refusal"):
            raise UnsupportedFeature(here, TARGET, "only text is allowed here")
        parts.extend(_text_part(piece, here))
    return parts


def _text_part(piece: JsonObject, where: str) -> list[JsonObject]:
    """A text (or refusal) content part; none for an empty text, which Gemini refuses."""
    text = piece.get(piece["type"])
    if not isinstance(text, str):
        raise InvalidRequest(f"`{where}` has no text.", param=where)
    return [{"text": text}] if text else []


def _user_parts(content: Any, where: str) -> list[JsonObject]:
    parts: list[JsonObject] = []
    for j, piece in enumerate(_content_list(content, where)):
        here = f"{where}.content[{j}]"
        kind = _kind(piece)
        if kind == "image_url":
            parts.append(_image_part(piece.get("image_url"), f"{here}.image_url"))
        elif kind in ("text", "refusal"):
            parts.extend(_text_part(piece, here))
        else:
            raise UnsupportedFeature(f"{here}.{kind}" if kind else here, TARGET)
    return parts


def _image_part(image: Any, where: str) -> JsonObject:
    # `detail` trades cost for resolution and is not translated: Gemini sizes images itself.
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(url, str):
        raise InvalidRequest(f"`{where}.url` must be a string.", param=where)
    if url.startswith("data:"):
        return {"inlineData": _data_url(url, where)}
    if url.startswith(("http://", "https://")):
        return {"fileData": {"mimeType": _image_type(url, where), "fileUri": url}}
    raise InvalidRequest(f"`{where}.url` must be a data: or http(s) URL.", param=where)


def _data_url(url: str, where: str) -> JsonObject:
    header, comma, data = url.removeprefix("data:").partition(",")
    mime_type, _, encoding = header.partition(";")
    if not comma or not mime_type or encoding != "base64":
        raise InvalidRequest(f"`{where}.url` must be a base64 data: URL.", param=where)
    return {"mimeType": mime_type, "data": data}


def _image_type(url: str, where: str) -> str:
    path = urlsplit(url).path.lower()
    for extension, mime_type in _IMAGE_TYPES.items():
        if path.endswith(extension):
            return mime_type
    raise UnsupportedFeature(
        f"{where}.url",
        TARGET,
        "Gemini needs the image type: link a .png, .jpg, .webp or .heic file or send a data: URL",
    )


def _model_parts(message: JsonObject, names: dict[str, str], where: str) -> list[JsonObject]:
    parts = _text_parts(message.get("content"), where)
    if message.get("refusal"):
        parts.append({"text": message["refusal"]})
    calls = [
        _function_call(call, names, f"{where}.tool_calls[{j}]")
        for j, call in enumerate(message.get("tool_calls") or [])
    ]
    if calls:
        calls[0]["thoughtSignature"] = _FOREIGN_SIGNATURE
    return parts + calls


def _function_call(call: Any, names: dict[str, str], where: str) -> JsonObject:
    if not isinstance(call, dict) or call.get("type", "function") != "function":
        raise UnsupportedFeature(f"{where}.type", TARGET, "only function calls are translated")
    function = call.get("function") or {}
    name = function.get("name")
    if not isinstance(name, str):
        raise InvalidRequest(f"`{where}.function.name` must be a string.", param=where)
    function_call: JsonObject = {"name": name, "args": _arguments(function.get("arguments"), where)}
    if isinstance(call.get("id"), str):
        names[call["id"]] = name
        function_call = {"id": call["id"], **function_call}
    return {"functionCall": function_call}


def _arguments(text: Any, where: str) -> JsonObject:
    where = f"{where}.function.arguments"
    try:
        args = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        raise InvalidRequest(f"`{where}` must be JSON.", param=where) from None
    if not isinstance(args, dict):
        raise InvalidRequest(f"`{where}` must be a JSON object.", param=where)
    return args


def _function_response(message: JsonObject, names: dict[str, str], where: str) -> JsonObject:
    call_id = message.get("tool_call_id")
    name = names.get(call_id) if isinstance(call_id, str) else None
    if name is None:
        raise InvalidRequest(
            f"`{where}.tool_call_id` matches no tool call of an earlier assistant message.",
            param="messages",
        )
    texts: list[JsonObject] = []
    media: list[JsonObject] = []
    for j, piece in enumerate(_content_list(message.get("content"), where)):
        here = f"{where}.content[{j}]"
        if _kind(piece) == "image_url":
            media.append(_image_part(piece.get("image_url"), f"{here}.image_url"))
        elif _kind(piece) in ("text", "refusal"):
            texts.extend(_text_part(piece, here))
        else:
            raise UnsupportedFeature(here, TARGET, "a tool result holds text and images only")
    text = "".join(part["text"] for part in texts)
    response: JsonObject = {"id": call_id, "name": name, "response": _tool_output(text)}
    if media:
        # Images a function returned: Gemini takes them as parts of its response.
        response["parts"] = media
    return {"functionResponse": response}


def _tool_output(text: str) -> JsonObject:
    """Gemini takes an object: a JSON object result as it is, anything else under "output",
    the key Google documents for a function's output."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"output": text}
    return value if isinstance(value, dict) else {"output": text}


def _declarations(tools: Any) -> list[JsonObject]:
    if not isinstance(tools, list):
        raise InvalidRequest("`tools` must be a list.", param="tools")
    return [_declaration(tool, f"tools[{i}]") for i, tool in enumerate(tools)]


def _declaration(tool: Any, where: str) -> JsonObject:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        raise UnsupportedFeature(f"{where}.type", TARGET, "only function tools are translated")
    function = tool.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise InvalidRequest(f"`{where}.function.name` must be a string.", param=where)
    for name in function:
        if name not in _FUNCTION_FIELDS:
            raise UnsupportedFeature(f"{where}.function.{name}", TARGET)
    # `strict` is not translated: Gemini has no per-function switch, and refusing it would
    # shut out clients that set it by default (the OpenAI Agents SDK does).
    declaration: JsonObject = {"name": function["name"]}
    if function.get("description") is not None:
        declaration["description"] = function["description"]
    if function.get("parameters") is not None:
        declaration["parametersJsonSchema"] = function["parameters"]
    return declaration


def _tool_config(choice: Any) -> JsonObject:
    if isinstance(choice, str) and choice in _TOOL_MODES:
        return {"functionCallingConfig": {"mode": _TOOL_MODES[choice]}}
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if isinstance(name, str):
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    raise UnsupportedFeature("tool_choice", TARGET)


def _generation_config(request: JsonObject) -> JsonObject:
    config = {
        gemini_name: request[name]
        for name, gemini_name in _RENAMED_GENERATION_FIELDS.items()
        if name in request
    }
    max_tokens = request.get("max_completion_tokens", request.get("max_tokens"))
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    if "stop" in request:
        stop = request["stop"]
        config["stopSequences"] = [stop] if isinstance(stop, str) else stop
    config.update(_response_format(request.get("response_format")))
    thinking_budget = _thinking_budget(request)
    if thinking_budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": thinking_budget, "includeThoughts": True}
    return config


def _response_format(value: Any) -> JsonObject:
    if value is None:
        return {}
    kind = _kind(value)
    if kind == "text":
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        json_format: JsonObject = {"responseMimeType": "application/json"}
        if schema is not None:
            json_format["responseJsonSchema"] = schema
        return json_format
    raise UnsupportedFeature("response_format", TARGET, f"type {kind!r}")


def _thinking_budget(request: JsonObject) -> int | None:
    """`thinking_budget`, else the budget for `reasoning_effort` (the exact one wins)."""
    if "thinking_budget" in request:
        budget: int = request["thinking_budget"]
        return budget
    effort = request.get("reasoning_effort")
    if effort is None:
        return None
    if effort not in _EFFORT_BUDGETS:
        raise UnsupportedFeature("reasoning_effort", TARGET, "only low, medium and high")
    return _EFFORT_BUDGETS[effort]
