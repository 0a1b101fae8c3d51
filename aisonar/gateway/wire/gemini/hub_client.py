"""Clients speaking Gemini generateContent, served through the hub (see `hub`).

Requests: what only Gemini can do is refused by name (`UnsupportedFeature`), never dropped,
but for `labels`, which only tag Vertex AI's billing reports: dropped and recorded as the
delivery-only rule says (`delivery`).
Google's JSON parser takes proto field names in snake_case as well as camelCase (its own curl
examples send `system_instruction`, `inline_data`), so both are read; free-form values
(function arguments and responses, JSON schemas) are left as they are.

Answers going back to those clients are `hub_client_answers`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.hub import (
    JsonObject,
    Refusals,
    UnsupportedFeature,
    note_dropped,
    refuse_unknown,
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
        # Ignored: the URL names the model.
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


# Request: Gemini -> hub


def gemini_request_to_hub(doc: JsonObject, *, model: str, stream: bool) -> JsonObject:
    """The request as a hub request; refuses, all at once, what the hub cannot carry."""
    request = _message(doc, "request")
    refusals = Refusals(TARGET)
    with refusals.part():
        refuse_unknown(request, _REQUEST_FIELDS, TARGET, "")
    with refusals.part():
        _check_safety_settings(request.get("safetySettings"))
    hub: JsonObject = {"model": model, "messages": []}
    with refusals.part():
        hub["messages"].extend(_system_messages(request.get("systemInstruction")))
    with refusals.part():
        hub["messages"].extend(_conversation(request.get("contents")))
    if "tools" in request:
        with refusals.part():
            hub["tools"] = _tools(request["tools"])
    # A tool config chooses among the tools: without them (refused), nothing to check.
    if "toolConfig" in request and ("tools" in hub or "tools" not in request):
        with refusals.part():
            _apply_tool_config(hub, request["toolConfig"])
    if "generationConfig" in request:
        with refusals.part():
            hub.update(_generation_config(request["generationConfig"]))
    refusals.check()
    if stream:
        hub["stream"] = True
    if "labels" in request:
        note_dropped(hub, "labels")
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
    """A function's response as a tool message: its JSON as text, then the images of its
    `parts` (multimodal function responses), as the hub carries a tool result's images."""
    response = _message(value, where)
    known = frozenset({"id", "name", "response", "parts"})
    refuse_unknown(response, known, TARGET, _prefix(where))
    name = _text(response.get("name"), f"{where}.name")
    text = _compact_json(response.get("response", {}))
    media = [
        piece
        for k, part in enumerate(_list(response.get("parts", []), f"{where}.parts"))
        for piece in _response_media(part, f"{where}.parts[{k}]")
    ]
    return {
        "role": "tool",
        "tool_call_id": ids.for_response(response.get("id"), name, where),
        "content": [{"type": "text", "text": text}, *media] if media else text,
    }


def _response_media(value: Any, where: str) -> list[JsonObject]:
    """One part of a function response: an image inline or by URL, after its `displayName`
    as text (the name the response's JSON refers to it by, `{"$ref": name}`)."""
    part = _message(value, where)
    refuse_unknown(part, frozenset({"inlineData", "fileData"}), TARGET, _prefix(where))
    if "inlineData" in part:
        key, read = "inlineData", _inline_image
    elif "fileData" in part:
        key, read = "fileData", _linked_image
    else:
        raise InvalidRequest(f"`{where}` holds no content.", param=where)
    media = _message(part[key], f"{where}.{key}")
    label = media.pop("displayName", None)
    image = read(media, f"{where}.{key}")
    if label is None:
        return [image]
    return [{"type": "text", "text": _text(label, f"{where}.{key}.displayName")}, image]


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
    if names and mode not in ("ANY", "VALIDATED"):
        raise InvalidRequest(
            "`allowedFunctionNames` is allowed with modes ANY and VALIDATED only.",
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
    elif mode == "VALIDATED":
        # AUTO whose calls Gemini holds to their schemas (Pydantic AI sends it by default):
        # the check is not carried, as OpenAI's `strict` is not carried to Gemini.
        if names:
            hub["tools"] = [tool for tool in tools if tool["function"]["name"] in names]
        if tools:
            hub["tool_choice"] = "auto"
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
    refusals = Refusals(TARGET)
    with refusals.part():
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
    with refusals.part():
        _check_modalities(config.get("responseModalities", ["TEXT"]))
    with refusals.part():
        hub.update(_response_format(config))
    if "thinkingConfig" in config:
        with refusals.part():
            hub.update(_thinking(config["thinkingConfig"]))
    refusals.check()
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
    # The schema is named after the field it came in, so that what a target leaves out of it
    # can be named by the client's path (`delivery`).
    if "responseJsonSchema" in config:
        name, schema = "responseJsonSchema", config["responseJsonSchema"]
    elif "responseSchema" in config:
        where = "generationConfig.responseSchema"
        name, schema = "responseSchema", _json_schema(config["responseSchema"], where)
    else:
        return {"response_format": {"type": "json_object"}}
    return {
        "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
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
