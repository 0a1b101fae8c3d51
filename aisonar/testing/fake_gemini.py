"""The Gemini API (Google AI Studio) side of the fake upstream.

Serves `POST /v1/models/{model}:generateContent`, `:streamGenerateContent` (server-sent events
with `?alt=sse`, otherwise a streamed JSON array), `:countTokens`, and `:embedContent` and
`:batchEmbedContents` (in `fake_gemini_embeddings`), the same under `/v1beta`, and the model
list, closely enough for the official `google-genai` SDK. The key comes in the `x-goog-api-key`
header or the `key` query parameter. Replies follow the OpenAI fake's rules: "Echo: " + the
last user text, a call of the first (or the first allowed) declared function with arguments
valid against its parameters, JSON valid against `responseJsonSchema`/`responseSchema` in JSON
mode (strings are the text; `{"echo": <text>}` when no properties are declared), and a
"Thinking about: ..." thought part
when the request asks for thoughts. Requests are checked as the real API checks them, with its
400 INVALID_ARGUMENT messages. JSON fields are read by their camelCase or, as protobuf JSON
allows, snake_case names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from aiohttp import web

from aisonar.gateway.wire.gemini.format import gemini_status
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
from aisonar.testing.fake_gemini_embeddings import batch_embed_contents, embed_content
from aisonar.testing.fake_gemini_requests import (
    GenerateRequest,
    count_request_tokens,
    function_responses,
    get,
    parse_generate,
)
from aisonar.testing.fake_replies import (
    JsonObject,
    OpenAIError,
    cut_at_stop_sequence,
    random_id,
    split_pieces,
    truncate_to_tokens,
)
from aisonar.testing.fake_schema import answer_value
from aisonar.usage.tokens import count_text_tokens

API_VERSIONS = ("v1", "v1beta")
_RESPONSE_ID_LENGTH = 22
_CALL_ID_LENGTH = 8
_INVALID_KEY = "API key not valid. Please pass a valid API key."
_MISSING_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


# --- errors ----------------------------------------------------------------------------------


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


# --- replies ---------------------------------------------------------------------------------


def _last_user_text(contents: list[JsonObject]) -> str:
    for content in reversed(contents):
        if get(content, "role") in (None, "", "user"):
            texts = (get(part, "text") for part in get(content, "parts"))
            return " ".join(text for text in texts if isinstance(text, str))
    return ""


def _source_text(contents: list[JsonObject]) -> str:
    """What the reply echoes: the function results of the last turn, else the user's text."""
    responses = function_responses(contents[-1])
    if responses:
        results = (get(response, "response") or {} for response in responses)
        return " ".join(orjson.dumps(result).decode() for result in results)
    return _last_user_text(contents)


def _answer_text(request: GenerateRequest, source: str) -> tuple[str, str]:
    """The reply's text and finish reason."""
    generation = request.generation
    full = (
        orjson.dumps(answer_value(generation.schema, source)).decode()
        if generation.json_reply
        else "Echo: " + source
    )
    text, _ = cut_at_stop_sequence(full, generation.stop_sequences)
    if generation.max_output_tokens is None:
        return text, "STOP"
    kept = truncate_to_tokens(text, generation.max_output_tokens, request.model)
    return kept, "STOP" if kept == text else "MAX_TOKENS"


def _candidate_parts(request: GenerateRequest) -> tuple[list[JsonObject], str]:
    """One candidate's parts, a thought first when asked for, and its finish reason."""
    source = _source_text(request.contents)
    parts: list[JsonObject] = []
    if request.generation.include_thoughts:
        parts.append({"text": "Thinking about: " + source, "thought": True})
    if request.function_name is not None:
        call = {
            "id": random_id("", _CALL_ID_LENGTH),
            "name": request.function_name,
            "args": answer_value(request.function_schema, source),
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
    # Vertex AI's answers add when they were made, and its usage the traffic's type.
    vertex: bool = False

    def usage(self, candidates: list[list[JsonObject]]) -> JsonObject | None:
        if self.queued_usage is not None:
            return self.queued_usage
        if not self.report_usage:
            return None
        usage = _usage_metadata(self.prompt_tokens, candidates, self.model)
        return {**usage, "trafficType": "ON_DEMAND"} if self.vertex else usage

    def response(self, candidates: list[JsonObject], usage: JsonObject | None) -> JsonObject:
        body: JsonObject = {"candidates": candidates}
        if usage is not None:
            body["usageMetadata"] = usage
        body["modelVersion"] = self.model
        if self.vertex:
            body["createTime"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        body["responseId"] = self.response_id
        return body


def _plan_reply(model: str, admission: Admission, *, vertex: bool = False) -> _Reply:
    request = parse_generate(admission.body, model)
    candidates = [_candidate_parts(request) for _ in range(request.generation.candidate_count)]
    return _Reply(
        model=model,
        response_id=random_id("", _RESPONSE_ID_LENGTH),
        prompt_tokens=request.prompt_tokens,
        candidates=candidates,
        queued_usage=admission.usage,
        report_usage=admission.fault != "no_usage",
        vertex=vertex,
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
    tokens = count_request_tokens(admission.body, model)
    details = [{"modality": "TEXT", "tokenCount": tokens}]
    return json_response({"totalTokens": tokens, "promptTokensDetails": details})


_Method = Callable[[web.Request, str, Admission], Awaitable[web.StreamResponse]]
_METHODS: dict[str, _Method] = {
    "generateContent": _generate_content,
    "streamGenerateContent": _stream_generate_content,
    "countTokens": _count_tokens,
    "embedContent": embed_content,
    "batchEmbedContents": batch_embed_contents,
}
_GENERATION_METHODS = ["generateContent", "countTokens"]
_EMBEDDING_METHODS = ["embedContent", "batchEmbedContents"]


VERTEX_METHODS = ("generateContent", "streamGenerateContent", "countTokens")


async def vertex_answer(
    request: web.Request, model: str, method: str, admission: Admission
) -> web.StreamResponse:
    """A Vertex AI answer to one of `VERTEX_METHODS` of a Gemini model, the request admitted."""
    if method == "countTokens":
        return await _count_tokens(request, model, admission)
    reply = _plan_reply(model, admission, vertex=True)
    if method == "streamGenerateContent":
        return await _stream(request, admission, _stream_chunks(reply))
    await asyncio.sleep(admission.config.latency_s)
    return json_response(_reply_body(reply))


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
            "supportedGenerationMethods": (
                _EMBEDDING_METHODS if "embedding" in model else _GENERATION_METHODS
            ),
        }
        for model in admission.config.models
    ]
    return json_response({"models": models})


def add_gemini_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1beta/models", list_models)
    for version in API_VERSIONS:
        router.add_post(f"/{version}/models/{{name}}", _model_method)
