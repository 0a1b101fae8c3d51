"""Clients speaking Gemini generateContent, served through the hub (see `hub`).

Requests: what only Gemini can do is refused by name (`UnsupportedFeature`), never dropped.
Google's JSON parser takes proto field names in snake_case as well as camelCase (its own curl
examples send `system_instruction`, `inline_data`), so both are read; free-form values
(function arguments and responses, JSON schemas) are left as they are.

Answers: hub answers and stream chunks rendered as GenerateContentResponse documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from aisonar.gateway.errors import InvalidRequest, UnreadableUpstream
from aisonar.gateway.formats.gemini import gemini_usage_metadata
from aisonar.gateway.translate.hub import (
    JsonObject,
    UnsupportedFeature,
    refuse_unknown,
    usage_from_hub,
)

TARGET = "a non-Gemini upstream"

_REQUEST_FIELDS = frozenset(
    {
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "generationConfig",
        "safetySettings",
        # Ignored: the URL names the model; labels only tag Vertex AI's billing reports.
        "model",
        "labels",
    }
)
# A part holds one of these; `thought` and `thoughtSignature` qualify it.
_PART_FIELDS = frozenset(
    {"text", "inlineData", "fileData", "functionCall", "functionResponse"}
    | {"thought", "thoughtSignature"}
)
_RENAMED_GENERATION_FIELDS = {
    "temperature": "temperature",
    "topP": "top_p",
    "maxOutputTokens": "max_tokens",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
    "seed": "seed",
}
_GENERATION_FIELDS = frozenset(_RENAMED_GENERATION_FIELDS) | {
    "candidateCount",
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "thinkingConfig",
}
# Thresholds that ask Gemini's filters to block nothing: what another upstream does anyway.
_OPEN_THRESHOLDS = frozenset({"OFF", "BLOCK_NONE"})
# Schema fields that are int64 in the proto, which proto JSON may send as strings.
_INT64_SCHEMA_FIELDS = frozenset(
    {"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"}
)
# Gemini Files API uploads: readable with the uploader's Gemini key only.
_FILES_API_HOST = "generativelanguage.googleapis.com"

_FINISH_REASONS = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "function_call": "STOP",
    "content_filter": "SAFETY",
}


# Request: Gemini -> hub


def gemini_request_to_hub(doc: JsonObject, *, model: str, stream: bool) -> JsonObject:
    request = _message(doc, "request")
    refuse_unknown(request, _REQUEST_FIELDS, TARGET, "")
    _check_safety_settings(request.get("safetySettings"))
    messages = _system_messages(request.get("systemInstruction"))
    messages.extend(_conversation(request.get("contents")))
    hub: JsonObject = {"model": model, "messages": messages}
    if "tools" in request:
        hub["tools"] = _tools(request["tools"])
    if "toolConfig" in request:
        _apply_tool_config(hub, request["toolConfig"])
    if "generationConfig" in request:
        hub.update(_generation_config(request["generationConfig"]))
    if stream:
        hub["stream"] = True
        hub["stream_options"] = {"include_usage": True}
    return hub


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _message(value: Any, where: str) -> JsonObject:
    """A proto message of the request with camelCase field names; null fields are unset."""
    if not isinstance(value, dict):
        raise InvalidRequest(f"`{where}` must be an object.", param=where)
    return {_camel(key): item for key, item in value.items() if item is not None}


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest(f"`{where}` must be a list.", param=where)
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"`{where}` must be a string.", param=where)
    return value


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _prefix(where: str) -> str:
    return f"{where}." if where else ""


def _check_safety_settings(settings: Any) -> None:
    for i, value in enumerate(_list(settings or [], "safetySettings")):
        setting = _message(value, f"safetySettings[{i}]")
        if setting.get("threshold") not in _OPEN_THRESHOLDS:
            raise UnsupportedFeature(
                f"safetySettings[{i}].threshold",
                TARGET,
                "only OFF and BLOCK_NONE (no Gemini filtering) can be honoured elsewhere",
            )


def _system_messages(value: Any) -> list[JsonObject]:
    if value is None:
        return []
    instruction = _message(value, "systemInstruction")
    refuse_unknown(instruction, frozenset({"role", "parts"}), TARGET, _prefix("systemInstruction"))
    texts: list[str] = []
    for j, item in enumerate(_list(instruction.get("parts") or [], "systemInstruction.parts")):
        where = f"systemInstruction.parts[{j}]"
        part = _message(item, where)
        refuse_unknown(part, frozenset({"text"}), TARGET, _prefix(where))
        texts.append(_text(part.get("text"), f"{where}.text"))
    return [{"role": "system", "content": _text_content(texts)}] if texts else []


def _text_content(texts: list[str]) -> str | list[JsonObject]:
    """One text as a string; several as text parts, keeping their boundaries."""
    if len(texts) == 1:
        return texts[0]
    return [{"type": "text", "text": text} for text in texts]


@dataclass
class _CallIds:
    """Tool-call ids over a conversation: the functionCall's own id, else `call_<n>`. A
    functionResponse takes the id of its call, matched by id, else by name in order."""

    count: int = 0
    unanswered: list[tuple[str, str]] = field(default_factory=list)

    def for_call(self, call_id: str | None, name: str) -> str:
        if call_id is None:
            self.count += 1
            call_id = f"call_{self.count}"
        self.unanswered.append((call_id, name))
        return call_id

    def for_response(self, call_id: str | None, name: str, where: str) -> str:
        for position, (open_id, _) in enumerate(self.unanswered):
            if open_id == call_id:
                return self._answer(position)
        for position, (_, open_name) in enumerate(self.unanswered):
            if open_name == name:
                return self._answer(position)
        raise InvalidRequest(
            f"`{where}` answers no earlier functionCall named {name!r}.", param=where
        )

    def _answer(self, position: int) -> str:
        return self.unanswered.pop(position)[0]


def _conversation(value: Any) -> list[JsonObject]:
    contents = _list(value, "contents")
    if not contents:
        raise InvalidRequest("`contents` must not be empty.", param="contents")
    ids = _CallIds()
    messages: list[JsonObject] = []
    for i, item in enumerate(contents):
        where = f"contents[{i}]"
        content = _message(item, where)
        refuse_unknown(content, frozenset({"role", "parts"}), TARGET, _prefix(where))
        parts = _parts(content.get("parts") or [], f"{where}.parts")
        role = content.get("role", "user")
        if role == "user":
            messages.extend(_user_turn(parts, ids, where))
        elif role == "model":
            messages.extend(_model_turn(parts, ids, where))
        else:
            raise InvalidRequest(f"`{where}.role` must be user or model.", param=f"{where}.role")
    return messages


def _parts(value: Any, where: str) -> dict[int, JsonObject]:
    """The parts of a turn by position, without thoughts and thought signatures.

    Thoughts in history are dropped: no upstream takes thinking text back as input (Gemini
    itself ignores it; Anthropic needs its own signatures; OpenAI takes none). A
    thoughtSignature is opaque, readable only by the Gemini model that wrote it."""
    parts: dict[int, JsonObject] = {}
    for j, item in enumerate(_list(value, where)):
        part = _message(item, f"{where}[{j}]")
        refuse_unknown(part, _PART_FIELDS, TARGET, _prefix(f"{where}[{j}]"))
        part.pop("thoughtSignature", None)
        if not part.pop("thought", False):
            parts[j] = part
    return parts


def _user_turn(parts: dict[int, JsonObject], ids: _CallIds, where: str) -> list[JsonObject]:
    """Tool results first, as the hub wants them right after the calls; then the rest."""
    results: list[JsonObject] = []
    content: list[JsonObject] = []
    for j, part in parts.items():
        here = f"{where}.parts[{j}]"
        if "functionResponse" in part:
            results.append(_tool_result(part["functionResponse"], ids, f"{here}.functionResponse"))
        elif "functionCall" in part:
            raise InvalidRequest(f"`{here}`: only model turns call functions.", param=here)
        else:
            content.append(_user_content(part, here))
    if not content:
        return results
    if all(piece["type"] == "text" for piece in content):
        return [*results, {"role": "user", "content": _text_content([p["text"] for p in content])}]
    return [*results, {"role": "user", "content": content}]


def _model_turn(parts: dict[int, JsonObject], ids: _CallIds, where: str) -> list[JsonObject]:
    texts: list[str] = []
    calls: list[JsonObject] = []
    for j, part in parts.items():
        here = f"{where}.parts[{j}]"
        if "text" in part:
            texts.append(_text(part["text"], f"{here}.text"))
        elif "functionCall" in part:
            calls.append(_tool_call(part["functionCall"], ids, f"{here}.functionCall"))
        elif "functionResponse" in part:
            raise InvalidRequest(f"`{here}`: only user turns answer functions.", param=here)
        else:
            raise UnsupportedFeature(here, TARGET, "a model turn can hold only text and calls")
    if not texts and not calls:
        return []
    message: JsonObject = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def _user_content(part: JsonObject, where: str) -> JsonObject:
    if "text" in part:
        return {"type": "text", "text": _text(part["text"], f"{where}.text")}
    if "inlineData" in part:
        return _inline_image(part["inlineData"], f"{where}.inlineData")
    if "fileData" in part:
        return _linked_image(part["fileData"], f"{where}.fileData")
    raise InvalidRequest(f"`{where}` holds no content.", param=where)


def _inline_image(value: Any, where: str) -> JsonObject:
    blob = _message(value, where)
    refuse_unknown(blob, frozenset({"mimeType", "data"}), TARGET, _prefix(where))
    mime_type = _text(blob.get("mimeType"), f"{where}.mimeType")
    data = _text(blob.get("data"), f"{where}.data")
    if not mime_type.startswith("image/"):
        raise UnsupportedFeature(where, TARGET, f"only images are translated, not {mime_type}")
    return {"type": "image_url", "image_url": {"url": f"data:{mime_type};base64,{data}"}}


def _linked_image(value: Any, where: str) -> JsonObject:
    file = _message(value, where)
    refuse_unknown(file, frozenset({"mimeType", "fileUri"}), TARGET, _prefix(where))
    uri = _text(file.get("fileUri"), f"{where}.fileUri")
    mime_type = file.get("mimeType", "")
    if not isinstance(mime_type, str) or not mime_type.startswith("image/"):
        raise UnsupportedFeature(where, TARGET, f"only images are translated, not {mime_type!r}")
    address = urlsplit(uri)
    if address.scheme not in ("http", "https") or address.hostname == _FILES_API_HOST:
        raise UnsupportedFeature(
            f"{where}.fileUri", TARGET, "only public http(s) image URLs can be read elsewhere"
        )
    return {"type": "image_url", "image_url": {"url": uri}}


def _tool_call(value: Any, ids: _CallIds, where: str) -> JsonObject:
    call = _message(value, where)
    refuse_unknown(call, frozenset({"id", "name", "args"}), TARGET, _prefix(where))
    name = _text(call.get("name"), f"{where}.name")
    return {
        "id": ids.for_call(call.get("id"), name),
        "type": "function",
        "function": {"name": name, "arguments": _compact_json(call.get("args", {}))},
    }


def _tool_result(value: Any, ids: _CallIds, where: str) -> JsonObject:
    response = _message(value, where)
    refuse_unknown(response, frozenset({"id", "name", "response"}), TARGET, _prefix(where))
    name = _text(response.get("name"), f"{where}.name")
    return {
        "role": "tool",
        "tool_call_id": ids.for_response(response.get("id"), name, where),
        "content": _compact_json(response.get("response", {})),
    }


def _compact_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _tools(value: Any) -> list[JsonObject]:
    tools: list[JsonObject] = []
    for i, item in enumerate(_list(value, "tools")):
        where = f"tools[{i}]"
        tool = _message(item, where)
        refuse_unknown(tool, frozenset({"functionDeclarations"}), TARGET, _prefix(where))
        declarations = _list(tool.get("functionDeclarations", []), f"{where}.functionDeclarations")
        tools.extend(
            _function_tool(declaration, f"{where}.functionDeclarations[{k}]")
            for k, declaration in enumerate(declarations)
        )
    return tools


def _function_tool(value: Any, where: str) -> JsonObject:
    declaration = _message(value, where)
    known = frozenset({"name", "description", "parameters", "parametersJsonSchema"})
    refuse_unknown(declaration, known, TARGET, _prefix(where))
    function: JsonObject = {"name": _text(declaration.get("name"), f"{where}.name")}
    if "description" in declaration:
        function["description"] = declaration["description"]
    if "parametersJsonSchema" in declaration:
        function["parameters"] = declaration["parametersJsonSchema"]
    elif "parameters" in declaration:
        function["parameters"] = _json_schema(declaration["parameters"], f"{where}.parameters")
    return {"type": "function", "function": function}


def _json_schema(value: Any, where: str) -> JsonObject:
    """Gemini's OpenAPI-style Schema as JSON Schema: types lower-cased ("OBJECT" -> "object"),
    `nullable` folded into the type, the nested schemas converted too."""
    schema = _message(value, where)
    converted: JsonObject = {}
    for name, item in schema.items():
        if name == "type":
            converted["type"] = _text(item, f"{where}.type").lower()
        elif name == "properties":
            converted["properties"] = {
                key: _json_schema(sub, f"{where}.properties.{key}")
                for key, sub in _message_map(item, f"{where}.properties").items()
            }
        elif name == "items":
            converted["items"] = _json_schema(item, f"{where}.items")
        elif name == "anyOf":
            converted["anyOf"] = [
                _json_schema(sub, f"{where}.anyOf[{k}]")
                for k, sub in enumerate(_list(item, f"{where}.anyOf"))
            ]
        elif name == "example":
            converted["examples"] = [item]
        elif name in _INT64_SCHEMA_FIELDS:
            converted[name] = _int64(item, f"{where}.{name}")
        elif name not in ("nullable", "propertyOrdering"):
            # propertyOrdering needs no translation: `properties` keeps its order.
            converted[name] = item
    if schema.get("nullable") and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    return converted


def _int64(value: Any, where: str) -> int:
    """Proto JSON may write an int64 as a string."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    raise InvalidRequest(f"`{where}` must be an integer.", param=where)


def _message_map(value: Any, where: str) -> dict[str, Any]:
    """A proto map: its keys are names chosen by the client, kept as they are."""
    if not isinstance(value, dict):
        raise InvalidRequest(f"`{where}` must be an object.", param=where)
    return value


def _apply_tool_config(hub: JsonObject, value: Any) -> None:
    config = _message(value, "toolConfig")
    refuse_unknown(config, frozenset({"functionCallingConfig"}), TARGET, _prefix("toolConfig"))
    where = "toolConfig.functionCallingConfig"
    calling = _message(config.get("functionCallingConfig", {}), where)
    refuse_unknown(calling, frozenset({"mode", "allowedFunctionNames"}), TARGET, _prefix(where))
    mode = calling.get("mode", "AUTO")
    names = _list(calling.get("allowedFunctionNames", []), f"{where}.allowedFunctionNames")
    if names and mode != "ANY":
        raise InvalidRequest(
            "`allowedFunctionNames` is allowed with mode ANY only.",
            param=f"{where}.allowedFunctionNames",
        )
    tools: list[JsonObject] = hub.get("tools", [])
    declared = {tool["function"]["name"] for tool in tools}
    for name in names:
        if name not in declared:
            raise InvalidRequest(
                f"`{where}.allowedFunctionNames` names an undeclared function {name!r}.",
                param=f"{where}.allowedFunctionNames",
            )
    if mode in ("AUTO", "MODE_UNSPECIFIED", "NONE"):
        if tools:
            hub["tool_choice"] = "none" if mode == "NONE" else "auto"
    elif mode == "ANY":
        if not tools:
            raise InvalidRequest("Mode ANY needs function declarations.", param=f"{where}.mode")
        hub["tool_choice"] = _forced_choice(hub, names)
    else:
        raise UnsupportedFeature(f"{where}.mode", TARGET, f"mode {mode}")


def _forced_choice(hub: JsonObject, names: list[str]) -> str | JsonObject:
    """ANY: one allowed name forces that function; several keep only the allowed ones
    among the tools, any of which must be called."""
    if len(names) == 1:
        return {"type": "function", "function": {"name": names[0]}}
    if names:
        hub["tools"] = [tool for tool in hub["tools"] if tool["function"]["name"] in names]
    return "required"


def _generation_config(value: Any) -> JsonObject:
    config = _message(value, "generationConfig")
    refuse_unknown(config, _GENERATION_FIELDS, TARGET, _prefix("generationConfig"))
    hub = {
        hub_name: config[name]
        for name, hub_name in _RENAMED_GENERATION_FIELDS.items()
        if name in config
    }
    if config.get("candidateCount", 1) > 1:
        hub["n"] = config["candidateCount"]
    if "stopSequences" in config:
        hub["stop"] = _list(config["stopSequences"], "generationConfig.stopSequences")
    _check_modalities(config.get("responseModalities", ["TEXT"]))
    hub.update(_response_format(config))
    if "thinkingConfig" in config:
        hub.update(_thinking(config["thinkingConfig"]))
    return hub


def _check_modalities(value: Any) -> None:
    where = "generationConfig.responseModalities"
    if any(modality != "TEXT" for modality in _list(value, where)):
        raise UnsupportedFeature(where, TARGET, "only TEXT answers are translated")


def _response_format(config: JsonObject) -> JsonObject:
    mime_type = config.get("responseMimeType", "text/plain")
    has_schema = "responseSchema" in config or "responseJsonSchema" in config
    if mime_type == "text/plain" and not has_schema:
        return {}
    if mime_type != "application/json":
        raise UnsupportedFeature(
            "generationConfig.responseMimeType", TARGET, "only application/json schemas apply"
        )
    if "responseJsonSchema" in config:
        schema = config["responseJsonSchema"]
    elif "responseSchema" in config:
        schema = _json_schema(config["responseSchema"], "generationConfig.responseSchema")
    else:
        return {"response_format": {"type": "json_object"}}
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema},
        }
    }


def _thinking(value: Any) -> JsonObject:
    where = "generationConfig.thinkingConfig"
    thinking = _message(value, where)
    # includeThoughts needs no translation: hub answers carry thinking whenever the upstream
    # returns it, as `thought: true` parts, which clients that did not ask skip (the SDK's
    # `.text` does).
    known = frozenset({"thinkingBudget", "thinkingLevel", "includeThoughts"})
    refuse_unknown(thinking, known, TARGET, _prefix(where))
    hub: JsonObject = {}
    budget = thinking.get("thinkingBudget")
    # -1 lets the model size its thinking: the upstream's default, so no budget is sent.
    if budget is not None and budget != -1:
        hub["thinking_budget"] = budget
    if "thinkingLevel" in thinking:
        hub["reasoning_effort"] = _text(thinking["thinkingLevel"], f"{where}.thinkingLevel").lower()
    return hub


# Answers: hub -> Gemini


def hub_response_to_gemini(hub: JsonObject, model: str) -> JsonObject:
    response: JsonObject = {"candidates": [_candidate(choice) for choice in hub["choices"]]}
    if isinstance(hub.get("usage"), dict):
        response["usageMetadata"] = gemini_usage_metadata(usage_from_hub(hub["usage"]))
    response["modelVersion"] = model
    if hub.get("id"):
        response["responseId"] = hub["id"]
    return response


def _candidate(choice: JsonObject) -> JsonObject:
    candidate: JsonObject = {
        "content": {"role": "model", "parts": _answer_parts(choice["message"])}
    }
    if choice.get("finish_reason"):
        candidate["finishReason"] = _finish_reason(choice["finish_reason"])
    candidate["index"] = choice.get("index", 0)
    return candidate


def _finish_reason(reason: str) -> str:
    return _FINISH_REASONS.get(reason, "OTHER")


def _answer_parts(message: JsonObject) -> list[JsonObject]:
    parts: list[JsonObject] = []
    if message.get("reasoning_content"):
        parts.append({"text": message["reasoning_content"], "thought": True})
    for name in ("content", "refusal"):
        if message.get(name):
            parts.append({"text": message[name]})
    parts.extend(_function_call_part(call) for call in message.get("tool_calls") or [])
    return parts


def _function_call_part(call: JsonObject) -> JsonObject:
    function = call["function"]
    return {
        "functionCall": {
            "id": call["id"],
            "name": function["name"],
            "args": _arguments(function.get("arguments")),
        }
    }


def _arguments(text: str | None) -> JsonObject:
    """Gemini's args must be an object: an upstream's malformed arguments cannot be sent."""
    try:
        args = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        raise UnreadableUpstream() from None
    if not isinstance(args, dict):
        raise UnreadableUpstream()
    return args


def _sse_event(document: JsonObject) -> bytes:
    return b"data: " + orjson.dumps(document) + b"\r\n\r\n"


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def add(self, piece: JsonObject) -> None:
        function = piece.get("function") or {}
        self.id = piece.get("id") or self.id
        self.name = function.get("name") or self.name
        if function.get("arguments"):
            self.arguments.append(function["arguments"])

    def part(self) -> JsonObject:
        args = _arguments("".join(self.arguments))
        return {"functionCall": {"id": self.id, "name": self.name, "args": args}}


class HubToGeminiStream:
    """Hub chunks as Gemini stream events. Text and thoughts go out as they come; a tool
    call's arguments come in pieces, so calls go out whole once their choice finishes. The
    last event carries the finish reasons and the usage, which the hub sends after them."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._response_id: str | None = None
        # Tool calls being received, by choice index then tool-call index.
        self._calls: dict[int, dict[int, _PendingCall]] = {}
        self._finish_reasons: dict[int, str] = {}
        self._usage: JsonObject | None = None
        self._done = False

    def feed(self, chunk: JsonObject) -> bytes:
        if self._done:
            return b""
        self._response_id = self._response_id or chunk.get("id")
        events = [
            event for choice in chunk.get("choices") or [] for event in self._choice_events(choice)
        ]
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
            if self._finish_reasons:
                events.append(self.finish())
        return b"".join(events)

    def finish(self) -> bytes:
        """The calls not sent yet, then the last event; nothing once the stream has ended."""
        if self._done:
            return b""
        self._done = True
        events = [self._calls_event(index) for index in sorted(self._calls)]
        if self._finish_reasons or self._usage is not None:
            events.append(self._last_event())
        return b"".join(events)

    def _choice_events(self, choice: JsonObject) -> list[bytes]:
        index: int = choice.get("index", 0)
        delta = choice.get("delta") or {}
        parts: list[JsonObject] = []
        if delta.get("reasoning_content"):
            parts.append({"text": delta["reasoning_content"], "thought": True})
        for name in ("content", "refusal"):
            if delta.get(name):
                parts.append({"text": delta[name]})
        for piece in delta.get("tool_calls") or []:
            calls = self._calls.setdefault(index, {})
            calls.setdefault(piece.get("index", 0), _PendingCall()).add(piece)
        events = [self._candidate_event(index, parts)] if parts else []
        if choice.get("finish_reason"):
            self._finish_reasons[index] = choice["finish_reason"]
            if index in self._calls:
                events.append(self._calls_event(index))
        return events

    def _calls_event(self, index: int) -> bytes:
        calls = self._calls.pop(index)
        return self._candidate_event(index, [calls[position].part() for position in sorted(calls)])

    def _candidate_event(self, index: int, parts: list[JsonObject]) -> bytes:
        return self._event([{"content": {"role": "model", "parts": parts}, "index": index}])

    def _last_event(self) -> bytes:
        candidates = [
            {
                # Google's last event carries an empty text too; code reading the first
                # part of every event keeps working.
                "content": {"role": "model", "parts": [{"text": ""}]},
                "finishReason": _finish_reason(reason),
                "index": index,
            }
            for index, reason in sorted(self._finish_reasons.items())
        ]
        usage = self._usage
        return self._event(
            candidates, gemini_usage_metadata(usage_from_hub(usage)) if usage is not None else None
        )

    def _event(self, candidates: list[JsonObject], usage: JsonObject | None = None) -> bytes:
        document: JsonObject = {}
        if candidates:
            document["candidates"] = candidates
        if usage is not None:
            document["usageMetadata"] = usage
        document["modelVersion"] = self._model
        if self._response_id:
            document["responseId"] = self._response_id
        return _sse_event(document)
