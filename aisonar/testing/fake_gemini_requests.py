"""What the fake Gemini API accepts: generateContent and countTokens requests read as Google's
protobuf JSON parser reads them, and refused with its errors when they break its rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

from aisonar.testing.fake_replies import (
    JsonObject,
    OpenAIError,
    json_object,
)
from aisonar.usage.tokens import count_text_tokens

_MAX_CANDIDATES = 8


_ROLES = ("", "user", "model")


_DATA_FIELDS = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
)


_CALL_FIELDS = (
    ("functionCall", "FunctionCall", "args"),
    ("functionResponse", "FunctionResponse", "response"),
)


_CALLING_MODES = ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")


_THINKING_LEVELS = ("THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH")


_MIME_TYPES = (
    "text/plain",
    "application/json",
    "application/xml",
    "application/yaml",
    "text/x.enum",
)


_INT_FIELDS = ("candidateCount", "maxOutputTokens", "topK", "seed")


_FLOAT_FIELDS = ("temperature", "topP", "presencePenalty", "frequencyPenalty")


_FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")


_PROTO_PACKAGE = "type.googleapis.com/google.ai.generativelanguage.v1beta."


_STRUCT = "type.googleapis.com/google.protobuf.Struct"


_BAD_FUNCTION_NAME = (
    "Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, "
    "or contain underscores, dots, colons and dashes, with a maximum length of 64."
)


_BAD_MIME_TYPE = (
    "allowed mimetypes are `text/plain`, `application/json`, `application/xml`, "
    "`application/yaml` and `text/x.enum`."
)


def _violation(path: str, problem: str) -> OpenAIError:
    """A field that fails the API's checks, in its message format."""
    return OpenAIError(400, f"* GenerateContentRequest.{path}: {problem}\n")


def _invalid_value(path: str, kind: str, value: Any) -> OpenAIError:
    """A JSON value of the wrong type, in the API's message format."""
    return OpenAIError(400, f"Invalid value at '{path}' ({kind}), {orjson.dumps(value).decode()}")


@cache
def _proto_name(json_name: str) -> str:
    return re.sub(r"[A-Z]", lambda upper: "_" + upper.group().lower(), json_name)


def _path(parent: str, json_name: str) -> str:
    """A field's path as error messages spell it: proto names, dot-separated."""
    name = _proto_name(json_name)
    return f"{parent}.{name}" if parent else name


def get(message: JsonObject, json_name: str) -> Any:
    if json_name in message:
        return message[json_name]
    return message.get(_proto_name(json_name))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _typed(
    message: JsonObject, json_name: str, parent: str, kind: str, check: Callable[[Any], bool]
) -> Any:
    """A scalar field, None when absent; `kind` names its proto type in errors."""
    value = get(message, json_name)
    if value is not None and not check(value):
        raise _invalid_value(_path(parent, json_name), kind, value)
    return value


def _enum(
    message: JsonObject, json_name: str, parent: str, enum_type: str, values: tuple[str, ...]
) -> str | None:
    value = get(message, json_name)
    if value is None:
        return None
    if value not in values:
        raise _invalid_value(_path(parent, json_name), _PROTO_PACKAGE + enum_type, value)
    return str(value)


def _as_message(value: Any, path: str, proto_type: str) -> JsonObject:
    if not isinstance(value, dict):
        raise _invalid_value(path, _PROTO_PACKAGE + proto_type, value)
    return value


def _submessage(
    message: JsonObject, json_name: str, parent: str, proto_type: str
) -> JsonObject | None:
    value = get(message, json_name)
    return None if value is None else _as_message(value, _path(parent, json_name), proto_type)


def _repeated(
    message: JsonObject, json_name: str, parent: str, kind: str, check: Callable[[Any], bool]
) -> list[Any]:
    """A repeated field, each item checked; `kind` names the item's proto type in errors."""
    path = _path(parent, json_name)
    value = get(message, json_name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid_value(path, kind, value)
    for index, item in enumerate(value):
        if not check(item):
            raise _invalid_value(f"{path}[{index}]", kind, item)
    return value


def _messages(message: JsonObject, json_name: str, parent: str, proto_type: str) -> list[Any]:
    return _repeated(message, json_name, parent, _PROTO_PACKAGE + proto_type, _is_object)


def _strings(message: JsonObject, json_name: str, parent: str) -> list[str]:
    return _repeated(message, json_name, parent, "TYPE_STRING", _is_str)


@dataclass(frozen=True)
class _Generation:
    """The generationConfig settings that shape the fake's reply."""

    candidate_count: int
    max_output_tokens: int | None
    stop_sequences: tuple[str, ...]
    json_reply: bool
    include_thoughts: bool
    # The schema a JSON reply follows: `responseJsonSchema` or `responseSchema`.
    schema: JsonObject | None = None


@dataclass(frozen=True)
class GenerateRequest:
    model: str
    contents: list[JsonObject]
    prompt_tokens: int
    function_name: str | None
    generation: _Generation
    # The called function's parameters (`parametersJsonSchema` or `parameters`).
    function_schema: JsonObject | None = None


def _check_calls(part: JsonObject, parent: str) -> None:
    """A functionCall part (with its `args`) or functionResponse part (with its `response`)."""
    for json_name, proto_type, payload in _CALL_FIELDS:
        call = _submessage(part, json_name, parent, proto_type)
        if call is None:
            continue
        path = _path(parent, json_name)
        if not _typed(call, "name", path, "TYPE_STRING", _is_str):
            raise _violation(f"{path}.name", "Name cannot be empty.")
        _typed(call, payload, path, _STRUCT, _is_object)


def _check_part(part: JsonObject, path: str) -> None:
    data = [name for name in _DATA_FIELDS if get(part, name) is not None]
    if not data:
        problem = "required oneof field 'data' must have one initialized field"
        raise _violation(f"{path}.data", problem)
    if len(data) > 1:
        message = f"Oneof field 'data' is already set. Cannot set '{_proto_name(data[1])}'"
        raise OpenAIError(400, "Invalid JSON payload received. " + message)
    _typed(part, "text", path, "TYPE_STRING", _is_str)
    _typed(part, "thought", path, "TYPE_BOOL", _is_bool)
    _check_calls(part, path)


def _check_content(content: JsonObject, path: str) -> None:
    if get(content, "role") not in (None, *_ROLES):
        raise OpenAIError(400, "Please use a valid role: user, model.")
    parts = _messages(content, "parts", path, "Part")
    if not parts:
        raise _violation(f"{path}.parts", "contents.parts must not be empty.")
    for index, part in enumerate(parts):
        _check_part(part, f"{path}.parts[{index}]")


def _contents(body: JsonObject) -> list[JsonObject]:
    contents = _messages(body, "contents", "", "Content")
    if not contents:
        raise _violation("contents", "contents is not specified")
    for index, content in enumerate(contents):
        _check_content(content, f"contents[{index}]")
    return contents


def _system_instruction(body: JsonObject) -> list[JsonObject]:
    system = _submessage(body, "systemInstruction", "", "Content")
    if system is None:
        return []
    _check_content(system, "system_instruction")
    return [system]


def _part_text(part: JsonObject) -> str:
    """The text a part counts for: its text, or its JSON when it carries something else."""
    text = get(part, "text")
    return text if isinstance(text, str) else orjson.dumps(part).decode()


def _prompt_tokens(body: JsonObject, contents: list[JsonObject], model: str) -> int:
    """Tokens of the system instruction, the contents and the tools."""
    prompt = [*_system_instruction(body), *contents]
    texts = [_part_text(part) for content in prompt for part in get(content, "parts")]
    tools = get(body, "tools")
    if tools:
        texts.append(orjson.dumps(tools).decode())
    return count_text_tokens("\n".join(texts), model)


def _declared_functions(body: JsonObject) -> list[str]:
    names = []
    for index, tool in enumerate(_messages(body, "tools", "", "Tool")):
        tool_path = f"tools[{index}]"
        declarations = _messages(tool, "functionDeclarations", tool_path, "FunctionDeclaration")
        for position, declaration in enumerate(declarations):
            path = f"{tool_path}.function_declarations[{position}]"
            name = _typed(declaration, "name", path, "TYPE_STRING", _is_str)
            if not _FUNCTION_NAME.fullmatch(name or ""):
                raise _violation(f"{path}.name", _BAD_FUNCTION_NAME)
            names.append(name)
    return names


def _function_schema(body: JsonObject, name: str | None) -> JsonObject | None:
    for tool in get(body, "tools") or []:
        for declaration in get(tool, "functionDeclarations") or []:
            if get(declaration, "name") == name:
                return _schema_of(declaration, "parametersJsonSchema", "parameters")
    return None


def _schema_of(message: JsonObject, json_schema: str, openapi_schema: str) -> JsonObject | None:
    """A JSON schema (`json_schema`, as sent), else an OpenAPI `Schema` message
    (`openapi_schema`) with its fields by their camelCase names."""
    value = get(message, json_schema)
    if isinstance(value, dict):
        return value
    value = get(message, openapi_schema)
    return _camel_schema(value) if isinstance(value, dict) else None


def _camel_schema(schema: Any) -> Any:
    """A `Schema` message's fields by their camelCase names (protobuf JSON takes snake_case
    too, as the google-genai SDK sends them); property names are kept."""
    if isinstance(schema, list):
        return [_camel_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    camel: JsonObject = {}
    for key, value in schema.items():
        name = re.sub(r"_([a-z])", lambda lower: lower.group(1).upper(), key)
        if name == "properties" and isinstance(value, dict):
            camel[name] = {prop: _camel_schema(sub) for prop, sub in value.items()}
        elif name in ("items", "anyOf"):
            camel[name] = _camel_schema(value)
        else:
            camel[name] = value
    return camel


def function_responses(content: JsonObject) -> list[JsonObject]:
    responses = (get(part, "functionResponse") for part in get(content, "parts"))
    return [response for response in responses if response is not None]


def _calling_config(body: JsonObject) -> JsonObject:
    tool_config = _submessage(body, "toolConfig", "", "ToolConfig") or {}
    calling_config = _submessage(
        tool_config, "functionCallingConfig", "tool_config", "FunctionCallingConfig"
    )
    return calling_config or {}


def _function_to_call(body: JsonObject, contents: list[JsonObject]) -> str | None:
    """The function the reply calls, or None when it is text."""
    declared = _declared_functions(body)
    calling = _calling_config(body)
    parent = "tool_config.function_calling_config"
    mode = _enum(calling, "mode", parent, "FunctionCallingConfig.Mode", _CALLING_MODES)
    allowed = _strings(calling, "allowedFunctionNames", parent)
    if not declared or mode == "NONE" or function_responses(contents[-1]):
        return None
    return allowed[0] if allowed else declared[0]


def _include_thoughts(config: JsonObject) -> bool:
    thinking = _submessage(config, "thinkingConfig", "generation_config", "ThinkingConfig") or {}
    parent = "generation_config.thinking_config"
    _typed(thinking, "thinkingBudget", parent, "TYPE_INT32", _is_int)
    _enum(thinking, "thinkingLevel", parent, "ThinkingConfig.ThinkingLevel", _THINKING_LEVELS)
    return _typed(thinking, "includeThoughts", parent, "TYPE_BOOL", _is_bool) is True


def _generation(body: JsonObject) -> _Generation:
    parent = "generation_config"
    config = _submessage(body, "generationConfig", "", "GenerationConfig") or {}
    for name in _FLOAT_FIELDS:
        _typed(config, name, parent, "TYPE_FLOAT", _is_number)
    ints = {name: _typed(config, name, parent, "TYPE_INT32", _is_int) for name in _INT_FIELDS}
    mime_type = _typed(config, "responseMimeType", parent, "TYPE_STRING", _is_str)
    if mime_type and mime_type not in _MIME_TYPES:
        raise _violation(f"{parent}.response_mime_type", _BAD_MIME_TYPE)
    # A zero is protobuf's "unset".
    count = ints["candidateCount"] or 1
    if not 1 <= count <= _MAX_CANDIDATES:
        problem = f"candidate_count must be in the range [1, {_MAX_CANDIDATES}]."
        raise _violation(f"{parent}.candidate_count", problem)
    max_tokens = ints["maxOutputTokens"]
    return _Generation(
        candidate_count=count,
        max_output_tokens=max_tokens if max_tokens and max_tokens > 0 else None,
        stop_sequences=tuple(_strings(config, "stopSequences", parent)),
        json_reply=mime_type == "application/json",
        include_thoughts=_include_thoughts(config),
        schema=_schema_of(config, "responseJsonSchema", "responseSchema"),
    )


def parse_generate(body: Any, model: str) -> GenerateRequest:
    body = json_object(body)
    contents = _contents(body)
    function_name = _function_to_call(body, contents)
    return GenerateRequest(
        model=model,
        contents=contents,
        prompt_tokens=_prompt_tokens(body, contents, model),
        function_name=function_name,
        generation=_generation(body),
        function_schema=_function_schema(body, function_name),
    )


def count_request_tokens(body: Any, model: str) -> int:
    """Tokens of a countTokens request: its contents, or a whole generateContentRequest."""
    body = json_object(body)
    inner = _submessage(body, "generateContentRequest", "", "GenerateContentRequest") or body
    return _prompt_tokens(inner, _contents(inner), model)
