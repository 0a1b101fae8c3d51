"""Amazon Bedrock's Converse API for the fake upstream: `POST /model/{modelId}/converse` and
`/converse-stream` (an AWS event stream of binary frames, `fake_eventstream`), the control
plane's `GET /foundation-models`, and STS's `AssumeRole` at `POST /` (`fake_aws`). Every
request is authenticated as AWS does it: a SigV4 signature recomputed with botocore's signer,
or a Bedrock API key.

Answers are the OpenAI fake's (`fake_replies`): "Echo: " + the last user text, or a `toolUse`
of the first (or chosen) tool. Prompt caching is simulated: the text before a request's last
`cachePoint` is written to the cache the first time it is seen (`cacheWriteInputTokens`) and
read from it afterwards (`cacheReadInputTokens`); `inputTokens` counts the rest. A model id
must look like Bedrock's (`provider.model...`, an inference profile or an ARN), so a name the
gateway forgot to map is refused as Bedrock refuses it. Faults and queued usage blocks work
as on the other fakes; errors are Bedrock's: `{"message": ...}` with `x-amzn-ErrorType`.
Bedrock's own fault, `[[bedrock:throttled-mid-stream]]` in a streamed request, ends its
stream after the first pieces with a `throttlingException` frame, as ConverseStream does
when a model is throttled mid-answer."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from aisonar.testing import fake_eventstream
from aisonar.testing.fake_aws import (
    AWS_STATE,
    AwsError,
    AwsState,
    assume_role,
    authenticate_bedrock,
)
from aisonar.testing.fake_bedrock_requests import ConverseRequest, invalid, parse_converse
from aisonar.testing.fake_core import (
    CUT_AFTER_ROUNDS,
    Admission,
    admit,
    close_connection,
    json_response,
    pace,
)
from aisonar.testing.fake_replies import (
    JsonObject,
    OpenAIError,
    Reply,
    cut_at_stop_sequence,
    make_reply,
    random_id,
    split_pieces,
)
from aisonar.usage.tokens import count_chat_prompt_tokens, count_text_tokens

MODELS = (
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "amazon.nova-lite-v1:0",
    "meta.llama3-3-70b-instruct-v1:0",
)
_THROTTLED_MID_STREAM = b"[[bedrock:throttled-mid-stream]]"
_MODEL_ID = re.compile(r"^([a-z-]+\.)?[a-z0-9-]+\.[\w.:-]+$|^arn:aws:bedrock:")
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_ERROR_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    413: "ValidationException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
CACHE = web.AppKey("fake_bedrock_cache", set[str])
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _aws_error(error: AwsError) -> web.Response:
    headers = {
        "x-amzn-ErrorType": f"{error.kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    }
    return json_response({"message": error.message}, error.status, headers)


def _bedrock_errors(handler: Handler) -> Handler:
    """Answer the fake's errors, the shared faults' included, in Bedrock's shape."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except AwsError as error:
            return _aws_error(error)
        except OpenAIError as error:
            kind = _ERROR_TYPES.get(error.status, "InternalServerException")
            response = _aws_error(AwsError(error.status, kind, error.body["error"]["message"]))
            response.headers.update(error.headers)
            return response

    return handle


async def _admit(request: web.Request, *, streaming: bool) -> tuple[Admission, ConverseRequest]:
    body = await request.read()
    authenticate_bedrock(request, body)
    model = request.match_info["model"]
    if not _MODEL_ID.match(model):
        raise invalid("The provided model identifier is invalid.")
    admission = await admit(request, None, streaming=streaming)
    return admission, parse_converse(model, admission.body)


def _usage(request: web.Request, parsed: ConverseRequest, output_tokens: int) -> JsonObject:
    total = count_chat_prompt_tokens(parsed.chat.messages, parsed.chat.model)
    cached = min(parsed.cached_tokens, total)
    usage = {"inputTokens": total - cached, "outputTokens": output_tokens}
    if cached:
        seen = request.app[CACHE]
        digest = hashlib.sha256(parsed.cached_prefix.encode()).hexdigest()
        usage["cacheReadInputTokens" if digest in seen else "cacheWriteInputTokens"] = cached
        seen.add(digest)
    usage["totalTokens"] = sum(usage.values())
    return usage


def _answer(parsed: ConverseRequest) -> tuple[JsonObject, str, int]:
    """The answer's one content block, its stop reason and its output tokens."""
    reply: Reply = make_reply(parsed.chat)
    stop_reason = _STOP_REASONS[reply.finish_reason]
    if reply.tool_name is not None:
        use = {
            "toolUseId": random_id("tooluse_"),
            "name": reply.tool_name,
            "input": orjson.loads(reply.text),
        }
        return {"toolUse": use}, stop_reason, reply.completion_tokens
    text, sequence = cut_at_stop_sequence(reply.text, parsed.stop_sequences)
    if sequence is None:
        return {"text": text}, stop_reason, reply.completion_tokens
    return {"text": text}, "stop_sequence", count_text_tokens(text, parsed.chat.model)


async def converse(request: web.Request) -> web.Response:
    admission, parsed = await _admit(request, streaming=False)
    block, stop_reason, output_tokens = _answer(parsed)
    answer: JsonObject = {
        "output": {"message": {"role": "assistant", "content": [block]}},
        "stopReason": stop_reason,
        "metrics": {"latencyMs": int(admission.config.latency_s * 1000)},
    }
    if admission.fault != "no_usage":
        answer["usage"] = admission.usage or _usage(request, parsed, output_tokens)
    await asyncio.sleep(admission.config.latency_s)
    return json_response(answer)


def _event(kind: str, payload: JsonObject) -> bytes:
    # Bedrock pads each event with a random `p` field, against length side channels.
    padded = {**payload, "p": secrets.token_urlsafe(secrets.randbelow(16) + 1)}
    return fake_eventstream.event(kind, orjson.dumps(padded))


def _block_frames(block: JsonObject) -> list[bytes]:
    """A content block's frames: its start (tool calls only), then its pieces."""
    if "toolUse" in block:
        use = block["toolUse"]
        start: JsonObject = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
        pieces = [
            {"toolUse": {"input": p}} for p in split_pieces(orjson.dumps(use["input"]).decode())
        ]
        return [
            _event("contentBlockStart", {"contentBlockIndex": 0, "start": start}),
            *(_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": d}) for d in pieces),
        ]
    texts = [{"text": piece} for piece in split_pieces(block["text"])]
    return [_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": d}) for d in texts]


async def converse_stream(request: web.Request) -> web.StreamResponse:
    admission, parsed = await _admit(request, streaming=True)
    block, stop_reason, output_tokens = _answer(parsed)
    await asyncio.sleep(admission.config.ttft_s)
    response = web.StreamResponse(headers={"Content-Type": "application/vnd.amazon.eventstream"})
    await response.prepare(request)
    await response.write(_event("messageStart", {"role": "assistant"}))
    throttled = _THROTTLED_MID_STREAM in await request.read()
    for step, frame in enumerate(_block_frames(block)):
        if admission.fault == "cut" and step == CUT_AFTER_ROUNDS:
            close_connection(request)
            return response
        if throttled and step == CUT_AFTER_ROUNDS:
            message = {"message": "Too many tokens, please wait before trying again."}
            await response.write(
                fake_eventstream.exception("throttlingException", orjson.dumps(message))
            )
            return response
        if step:
            await pace(admission.config)
        await response.write(frame)
    await response.write(_event("contentBlockStop", {"contentBlockIndex": 0}))
    await response.write(_event("messageStop", {"stopReason": stop_reason}))
    if admission.fault != "no_usage":
        usage = admission.usage or _usage(request, parsed, output_tokens)
        await response.write(_event("metadata", {"usage": usage, "metrics": {"latencyMs": 1}}))
    return response


async def list_foundation_models(request: web.Request) -> web.Response:
    authenticate_bedrock(request, await request.read())
    summaries = [
        {
            "modelId": model,
            "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model}",
            "providerName": model.split(".", 1)[0].capitalize(),
            "responseStreamingSupported": True,
        }
        for model in MODELS
    ]
    return json_response({"modelSummaries": summaries})


def add_bedrock_routes(app: web.Application) -> None:
    app[AWS_STATE] = AwsState()
    app[CACHE] = set()
    app.router.add_post("/model/{model}/converse", _bedrock_errors(converse))
    app.router.add_post("/model/{model}/converse-stream", _bedrock_errors(converse_stream))
    app.router.add_get("/foundation-models", _bedrock_errors(list_foundation_models))
    app.router.add_post("/", assume_role)
