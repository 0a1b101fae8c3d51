"""The Gemini API (Google AI Studio) side of the fake upstream.

Serves `POST /v1/models/{model}:generateContent`, `:streamGenerateContent` (server-sent events
with `?alt=sse`, otherwise a streamed JSON array) and `:countTokens`, the same under `/v1beta`,
closely enough for the official `google-genai` SDK. The key comes in the `x-goog-api-key` header
or the `key` query parameter. Replies follow the OpenAI fake's rules: "Echo: " + the last user
text, a call of the first (or the first allowed) declared function with `{"echo": <text>}`,
`{"echo": <text>}` in JSON mode, and a "Thinking about: ..." thought part when the request asks
for thoughts. Requests are checked as the real API checks them, with its 400 INVALID_ARGUMENT
messages. JSON fields are read by their camelCase or, as protobuf JSON allows, snake_case names.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from aiohttp import web

from aisonar.gateway.formats.gemini import gemini_status
from aisonar.testing.fake_core import (
    CUT_AFTER_ROUNDS,
    Admission,
    FakeUpstreamConfig,
    admit,
    close_connection,
    json_response,
    pace,
    start_event_stream,
)
from aisonar.testing.fake_replies import (
    JsonObject,
    OpenAIError,
    cut_at_stop_sequence,
    json_object,
    random_id,
    split_pieces,
    truncate_to_tokens,
)
from aisonar.usage.tokens import count_text_tokens

API_VERSIONS = ("v1", "v1beta")
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
_RESPONSE_ID_LENGTH = 22
_CALL_ID_LENGTH = 8
_BAD_FUNCTION_NAME = (
    "Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, "
    "or contain underscores, dots, colons and dashes, with a maximum length of 64."
)
_BAD_MIME_TYPE = (
    "allowed mimetypes are `text/plain`, `application/json`, `application/xml`, "
    "`application/yaml` and `text/x.enum`."
)
_INVALID_KEY = "API key not valid. Please pass a valid API key."
_MISSING_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


# --- errors ----------------------------------------------------------------------------------


def _violation(path: str, problem: str) -> OpenAIError:
    """A field that fails the API's checks, in its message format."""
    return OpenAIError(400, f"* GenerateContentRequest.{path}: {problem}\n")


def _invalid_value(path: str, kind: str, value: Any) -> OpenAIError:
    """A JSON value of the wrong type, in the API's message format."""
    return OpenAIError(400, f"Invalid value at '{path}' ({kind}), {orjson.dumps(value).decode()}")


def _error_response(status: int, message: str, details: list[JsonObject]) -> web.Response:
    error = {"code": status, "message": message, "status": gemini_status(status)}
    return json_response({"error": {**error, "details": details} if details else error}, status)


def _key_rejected(presented: str | None) -> web.Response:
    """The API refuses a missing key with 403 and a wrong one with 400, not 401."""
    if presented is None:
        return _error_response(403, _MISSING_KEY, [])
    reason = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }
    localized = {
        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
        "locale": "en-US",
        "message": _INVALID_KEY,
    }
    return _error_response(400, _INVALID_KEY, [reason, localized])


# --- reading protobuf JSON -------------------------------------------------------------------


@cache
def _proto_name(json_name: str) -> str:
    return re.sub(r"[A-Z]", lambda upper: "_" + upper.group().lower(), json_name)


def _path(parent: str, json_name: str) -> str:
    """A field's path as error messages spell it: proto names, dot-separated."""
    name = _proto_name(json_name)
    return f"{parent}.{name}" if parent else name


def _get(message: JsonObject, json_name: str) -> Any:
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
    value = _get(message, json_name)
    if value is not None and not check(value):
        raise _invalid_value(_path(parent, json_name), kind, value)
    return value


def _enum(
    message: JsonObject, json_name: str, parent: str, enum_type: str, values: tuple[str, ...]
) -> str | None:
    value = _get(message, json_name)
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
    value = _get(message, json_name)
    return None if value is None else _as_message(value, _path(parent, json_name), proto_type)


def _repeated(
    message: JsonObject, json_name: str, parent: str, kind: str, check: Callable[[Any], bool]
) -> list[Any]:
    """A repeated field, each item checked; `kind` names the item's proto type in errors."""
    path = _path(parent, json_name)
    value = _get(message, json_name)
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


# --- requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Generation:
    """The generationConfig settings that shape the fake's reply."""

    candidate_count: int
    max_output_tokens: int | None
    stop_sequences: tuple[str, ...]
    json_reply: bool
    include_thoughts: bool


@dataclass(frozen=True)
class _GenerateRequest:
    model: str
    contents: list[JsonObject]
    prompt_tokens: int
    function_name: str | None
    generation: _Generation


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
    data = [name for name in _DATA_FIELDS if _get(part, name) is not None]
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
    if _get(content, "role") not in (None, *_ROLES):
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
    text = _get(part, "text")
    return text if isinstance(text, str) else orjson.dumps(part).decode()


def _prompt_tokens(body: JsonObject, contents: list[JsonObject], model: str) -> int:
    """Tokens of the system instruction, the contents and the tools."""
    prompt = [*_system_instruction(body), *contents]
    texts = [_part_text(part) for content in prompt for part in _get(content, "parts")]
    tools = _get(body, "tools")
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


def _function_responses(content: JsonObject) -> list[JsonObject]:
    responses = (_get(part, "functionResponse") for part in _get(content, "parts"))
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
    if not declared or mode == "NONE" or _function_responses(contents[-1]):
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
    )


def _parse_generate(body: Any, model: str) -> _GenerateRequest:
    body = json_object(body)
    contents = _contents(body)
    return _GenerateRequest(
        model=model,
        contents=contents,
        prompt_tokens=_prompt_tokens(body, contents, model),
        function_name=_function_to_call(body, contents),
        generation=_generation(body),
    )


def _count_request_tokens(body: Any, model: str) -> int:
    """Tokens of a countTokens request: its contents, or a whole generateContentRequest."""
    body = json_object(body)
    inner = _submessage(body, "generateContentRequest", "", "GenerateContentRequest") or body
    return _prompt_tokens(inner, _contents(inner), model)


# --- replies ---------------------------------------------------------------------------------


def _last_user_text(contents: list[JsonObject]) -> str:
    for content in reversed(contents):
        if _get(content, "role") in (None, "", "user"):
            texts = (_get(part, "text") for part in _get(content, "parts"))
            return " ".join(text for text in texts if isinstance(text, str))
    return ""


def _source_text(contents: list[JsonObject]) -> str:
    """What the reply echoes: the function results of the last turn, else the user's text."""
    responses = _function_responses(contents[-1])
    if responses:
        results = (_get(response, "response") or {} for response in responses)
        return " ".join(orjson.dumps(result).decode() for result in results)
    return _last_user_text(contents)


def _answer_text(request: _GenerateRequest, source: str) -> tuple[str, str]:
    """The reply's text and finish reason."""
    generation = request.generation
    full = orjson.dumps({"echo": source}).decode() if generation.json_reply else "Echo: " + source
    text, _ = cut_at_stop_sequence(full, generation.stop_sequences)
    if generation.max_output_tokens is None:
        return text, "STOP"
    kept = truncate_to_tokens(text, generation.max_output_tokens, request.model)
    return kept, "STOP" if kept == text else "MAX_TOKENS"


def _candidate_parts(request: _GenerateRequest) -> tuple[list[JsonObject], str]:
    """One candidate's parts, a thought first when asked for, and its finish reason."""
    source = _source_text(request.contents)
    parts: list[JsonObject] = []
    if request.generation.include_thoughts:
        parts.append({"text": "Thinking about: " + source, "thought": True})
    if request.function_name is not None:
        call = {
            "id": random_id("", _CALL_ID_LENGTH),
            "name": request.function_name,
            "args": {"echo": source},
        }
        return [*parts, {"functionCall": call}], "STOP"
    text, finish_reason = _answer_text(request, source)
    return [*parts, {"text": text}], finish_reason


def _generated_text(part: JsonObject) -> str:
    """What the model generated in a reply part: its text, or a call's name and arguments."""
    call = part.get("functionCall")
    if call is None:
        return str(part["text"])
    return f"{call['name']}{orjson.dumps(call['args']).decode()}"


def _token_counts(parts: list[JsonObject], model: str) -> tuple[int, int]:
    """A candidate's answer tokens and thought tokens, which Gemini reports apart."""
    answer = "".join(_generated_text(part) for part in parts if not part.get("thought"))
    thoughts = "".join(_generated_text(part) for part in parts if part.get("thought"))
    return count_text_tokens(answer, model), count_text_tokens(thoughts, model)


def _usage_metadata(
    prompt_tokens: int, candidates: list[list[JsonObject]], model: str
) -> JsonObject:
    counts = [_token_counts(parts, model) for parts in candidates]
    answer = sum(answer for answer, _ in counts)
    thoughts = sum(thoughts for _, thoughts in counts)
    metadata = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": answer,
        "totalTokenCount": prompt_tokens + answer + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
        "thoughtsTokenCount": thoughts,
    }
    # Like all protobuf JSON, the API leaves zero counts out.
    return {name: value for name, value in metadata.items() if value}


@dataclass(frozen=True)
class _Reply:
    """An answer's candidates, each its parts and finish reason, and what its usage reports:
    a queued block verbatim, else the computed counts unless `report_usage` is off."""

    model: str
    response_id: str
    prompt_tokens: int
    candidates: list[tuple[list[JsonObject], str]]
    queued_usage: JsonObject | None
    report_usage: bool

    def usage(self, candidates: list[list[JsonObject]]) -> JsonObject | None:
        if self.queued_usage is not None:
            return self.queued_usage
        if not self.report_usage:
            return None
        return _usage_metadata(self.prompt_tokens, candidates, self.model)

    def response(self, candidates: list[JsonObject], usage: JsonObject | None) -> JsonObject:
        body: JsonObject = {"candidates": candidates}
        if usage is not None:
            body["usageMetadata"] = usage
        body["modelVersion"] = self.model
        body["responseId"] = self.response_id
        return body


def _plan_reply(model: str, admission: Admission) -> _Reply:
    request = _parse_generate(admission.body, model)
    candidates = [_candidate_parts(request) for _ in range(request.generation.candidate_count)]
    return _Reply(
        model=model,
        response_id=random_id("", _RESPONSE_ID_LENGTH),
        prompt_tokens=request.prompt_tokens,
        candidates=candidates,
        queued_usage=admission.usage,
        report_usage=admission.fault != "no_usage",
    )


def _candidate(index: int, parts: list[JsonObject], finish_reason: str | None) -> JsonObject:
    candidate: JsonObject = {"content": {"parts": parts, "role": "model"}}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    candidate["index"] = index
    return candidate


def _reply_body(reply: _Reply) -> JsonObject:
    candidates = [
        _candidate(index, parts, finish_reason)
        for index, (parts, finish_reason) in enumerate(reply.candidates)
    ]
    return reply.response(candidates, reply.usage([parts for parts, _ in reply.candidates]))


def _stream_pieces(parts: list[JsonObject]) -> list[JsonObject]:
    """A candidate's parts as streamed: answer text word by word, anything else whole."""
    pieces: list[JsonObject] = []
    for part in parts:
        text = part.get("text")
        if part.get("thought") or not isinstance(text, str):
            pieces.append(part)
        else:
            pieces.extend({"text": piece} for piece in split_pieces(text) or [""])
    return pieces


def _stream_chunk(reply: _Reply, pieces: list[list[JsonObject]], step: int) -> JsonObject:
    """The response for one step: every chunk reports the counts so far, so the last one
    reports the final counts; a queued usage block only goes on the last."""
    candidates = [
        _candidate(index, [own[step]], reply.candidates[index][1] if step == len(own) - 1 else None)
        for index, own in enumerate(pieces)
        if step < len(own)
    ]
    last = step == max(map(len, pieces)) - 1
    usage = reply.usage([own[: step + 1] for own in pieces])
    return reply.response(candidates, usage if last or reply.queued_usage is None else None)


def _stream_chunks(reply: _Reply) -> list[JsonObject]:
    pieces = [_stream_pieces(parts) for parts, _ in reply.candidates]
    return [_stream_chunk(reply, pieces, step) for step in range(max(map(len, pieces)))]


# --- HTTP ------------------------------------------------------------------------------------


def _api_key(request: web.Request) -> str | None:
    return request.headers.get("x-goog-api-key") or request.query.get("key") or None


async def _open_stream(
    request: web.Request, config: FakeUpstreamConfig, sse: bool
) -> web.StreamResponse:
    if sse:
        return await start_event_stream(request, config)
    await asyncio.sleep(config.ttft_s)
    response = web.StreamResponse(headers={"Content-Type": "application/json; charset=UTF-8"})
    await response.prepare(request)
    return response


def _frame(chunk: JsonObject, *, first: bool, sse: bool) -> bytes:
    """A chunk as a server-sent event, or as an item of the JSON array streamed without SSE."""
    data = orjson.dumps(chunk)
    if sse:
        return b"data: " + data + b"\r\n\r\n"
    return (b"[" if first else b",\r\n") + data


async def _stream(
    request: web.Request, admission: Admission, chunks: list[JsonObject]
) -> web.StreamResponse:
    sse = request.query.get("alt") == "sse"
    cut = admission.fault == "cut"
    response = await _open_stream(request, admission.config, sse)
    for step, chunk in enumerate(chunks):
        if cut and step == CUT_AFTER_ROUNDS:
            break
        if step:
            await pace(admission.config)
        await response.write(_frame(chunk, first=step == 0, sse=sse))
    if cut:
        close_connection(request)
    elif not sse:
        await response.write(b"]")
    return response


async def _generate_content(
    request: web.Request, model: str, admission: Admission
) -> web.StreamResponse:
    reply = _plan_reply(model, admission)
    await asyncio.sleep(admission.config.latency_s)
    return json_response(_reply_body(reply))


async def _stream_generate_content(
    request: web.Request, model: str, admission: Admission
) -> web.StreamResponse:
    return await _stream(request, admission, _stream_chunks(_plan_reply(model, admission)))


async def _count_tokens(
    request: web.Request, model: str, admission: Admission
) -> web.StreamResponse:
    tokens = _count_request_tokens(admission.body, model)
    details = [{"modality": "TEXT", "tokenCount": tokens}]
    return json_response({"totalTokens": tokens, "promptTokensDetails": details})


_Method = Callable[[web.Request, str, Admission], Awaitable[web.StreamResponse]]
_METHODS: dict[str, _Method] = {
    "generateContent": _generate_content,
    "streamGenerateContent": _stream_generate_content,
    "countTokens": _count_tokens,
}


async def _model_method(request: web.Request) -> web.StreamResponse:
    """`POST /{version}/models/{model}:{method}`: aiohttp cannot route on the colon."""
    model, _, method = request.match_info["name"].rpartition(":")
    handler = _METHODS.get(method)
    if not model or handler is None:
        raise web.HTTPNotFound()
    try:
        admission = await admit(request, _api_key, streaming=method == "streamGenerateContent")
    except OpenAIError as error:
        # admit() refuses a key with OpenAI's 401.
        if error.status != 401:
            raise
        return _key_rejected(_api_key(request))
    return await handler(request, model, admission)


async def list_models(request: web.Request) -> web.Response:
    """`GET /v1beta/models` (and `/v1/models` with a Google key)."""
    try:
        admission = await admit(request, _api_key)
    except OpenAIError as error:
        if error.status != 401:
            raise
        return _key_rejected(_api_key(request))
    models = [
        {
            "name": f"models/{model}",
            "displayName": model,
            "supportedGenerationMethods": ["generateContent", "countTokens"],
        }
        for model in admission.config.models
    ]
    return json_response({"models": models})


def add_gemini_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1beta/models", list_models)
    for version in API_VERSIONS:
        router.add_post(f"/{version}/models/{{name}}", _model_method)
