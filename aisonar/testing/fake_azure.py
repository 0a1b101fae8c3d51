"""A fake Azure OpenAI resource: a deployment's chat completions and embeddings at
`/openai/deployments/{deployment}/...?api-version=...`, the Responses API at
`/openai/v1/responses`, and the model list at `/openai/models`.

As Azure does, it refuses a request without `api-version` (404 "Resource not found") or
with one it does not know (400), takes the key in the `api-key` header or a Microsoft
Entra ID access token (`Authorization: Bearer`) from the fake's own token endpoint
(`fake_entra`), refusing unknown and expired ones (401), and annotates chat answers and
stream chunks with its content-filter results (`prompt_filter_results`,
`content_filter_results`). In-band faults, besides the fake's own: `[[fault:content_filter]]`
in a chat request is a prompt the filter blocks (400, code `content_filter`), and
`[[fault:content_filter_output]]` an answer it cuts short (`finish_reason:
content_filter`). The answering model is named after the deployment, as no fake knows
what an operator deployed."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from multidict import CIMultiDict

from aisonar.testing.fake_core import STATE, admit, json_response, pace, start_event_stream
from aisonar.testing.fake_entra import ENTRA
from aisonar.testing.fake_replies import (
    Completion,
    JsonObject,
    OpenAIError,
    completion_body,
    parse_chat,
    plan_completion,
    plan_stream,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The data-plane versions the fake knows (Azure's GA versions and recent previews).
API_VERSIONS = frozenset(
    {
        "2024-02-01",
        "2024-06-01",
        "2024-10-21",
        "2024-12-01-preview",
        "2025-01-01-preview",
        "2025-03-01-preview",
        "2025-04-01-preview",
    }
)
_PROMPT_FAULT = b"[[fault:content_filter]]"
_OUTPUT_FAULT = b"[[fault:content_filter_output]]"
_CATEGORIES = ("hate", "self_harm", "sexual", "violence")
_BAD_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API endpoint "
    "for your resource."
)
_BAD_TOKEN = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired."
)
_FILTERED_PROMPT = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content "
    "management policy. Please modify your prompt and retry. To learn more about our content "
    "filtering policies please read our documentation: "
    "https://go.microsoft.com/fwlink/?linkid=2198766"
)


class AzureError(OpenAIError):
    """An error in Azure's own shape: `{"error": {"code": ..., "message": ...}}`."""

    def __init__(self, http_status: int, code: str, message: str, **extra: object) -> None:
        super().__init__(http_status, message)
        self.body = {"error": {"code": code, "message": message, **extra}}


def filter_results(*, filtered: str | None = None) -> JsonObject:
    """Each category's verdict; `filtered` names the one that blocked."""
    return {
        name: {"filtered": name == filtered, "severity": "high" if name == filtered else "safe"}
        for name in _CATEGORIES
    }


def _prompt_results() -> list[JsonObject]:
    return [{"prompt_index": 0, "content_filter_results": filter_results()}]


def _check_version(request: web.Request) -> None:
    version = request.query.get("api-version")
    if version is None:
        raise AzureError(404, "404", "Resource not found")
    if version not in API_VERSIONS:
        raise AzureError(400, "BadRequest", "API version not supported")


def _check_credentials(request: web.Request) -> None:
    """The configured key in `api-key`, or a bearer token Entra issued and still valid."""
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        if not request.app[ENTRA].valid(authorization.removeprefix("Bearer ")):
            raise AzureError(401, "401", _BAD_TOKEN)
        return
    expected = request.app[STATE].config.api_key
    key = request.headers.get("api-key")
    if key is None or (expected is not None and key != expected):
        raise AzureError(401, "401", _BAD_KEY)


def _checked_key(request: web.Request) -> str | None:
    """What `admit` compares with the configured key, once Azure's check passed."""
    return request.app[STATE].config.api_key


def _as_openai(request: web.Request) -> web.Request:
    """The request as the fake's OpenAI endpoints authenticate it, once Azure's checks
    passed."""
    _check_credentials(request)
    headers = CIMultiDict(request.headers)
    headers.popall("Authorization", None)
    key = _checked_key(request)
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return request.clone(headers=headers)


async def _chat_completions(request: web.Request) -> web.StreamResponse:
    _check_version(request)
    _check_credentials(request)
    raw = await request.read()
    if _PROMPT_FAULT in raw:
        raise AzureError(
            400,
            "content_filter",
            _FILTERED_PROMPT,
            type=None,
            param="prompt",
            status=400,
            innererror={
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": filter_results(filtered="violence"),
            },
        )
    admission = await admit(request, _checked_key)
    chat = parse_chat(admission.body)
    completion = plan_completion(chat, report_usage=admission.fault != "no_usage")
    if admission.usage is not None:
        completion = dataclasses.replace(completion, usage=admission.usage)
    blocked = _OUTPUT_FAULT in raw
    if chat.stream:
        return await _stream(request, completion, chat.include_usage, blocked=blocked)
    await asyncio.sleep(admission.config.latency_s)
    body = completion_body(completion)
    body["prompt_filter_results"] = _prompt_results()
    for choice in body["choices"]:
        choice["content_filter_results"] = filter_results()
        if blocked:
            choice["message"]["content"] = None
            choice["finish_reason"] = "content_filter"
            choice["content_filter_results"] = filter_results(filtered="violence")
    return json_response(body)


async def _send(response: web.StreamResponse, chunks: list[JsonObject]) -> None:
    for chunk in chunks:
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")


def _annotated(chunk: JsonObject, results: JsonObject) -> JsonObject:
    choices = [{**choice, "content_filter_results": results} for choice in chunk["choices"]]
    return {**chunk, "choices": choices}


def _blocked(tail: list[JsonObject]) -> list[JsonObject]:
    """The stream's end when the filter blocked the answer."""
    results = filter_results(filtered="violence")
    return [
        {
            **chunk,
            "choices": [
                {**choice, "finish_reason": "content_filter", "content_filter_results": results}
                for choice in chunk["choices"]
            ],
        }
        for chunk in tail
    ]


async def _stream(
    request: web.Request, completion: Completion, include_usage: bool, *, blocked: bool
) -> web.StreamResponse:
    """Azure's stream: the prompt's filter results first (a chunk without choices), each
    chunk's own results; a blocked answer stops after its first piece."""
    config = request.app[STATE].config
    plan = plan_stream(completion, include_usage=include_usage)
    response = await start_event_stream(request, config)
    head = {"choices": [], "created": 0, "id": "", "model": "", "object": ""}
    await _send(response, [{**head, "prompt_filter_results": _prompt_results()}])
    await _send(response, [_annotated(chunk, {}) for chunk in plan.head])
    rounds = plan.rounds[:1] if blocked else plan.rounds
    for step, chunks in enumerate(rounds):
        if step:
            await pace(config)
        await _send(response, [_annotated(chunk, filter_results()) for chunk in chunks])
    await _send(response, _blocked(plan.tail) if blocked else plan.tail)
    await response.write(b"data: [DONE]\n\n")
    return response


def _openai_endpoint(handler: Handler, *, versioned: bool) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        if versioned:
            _check_version(request)
        return await handler(_as_openai(request))

    return serve


async def _models(request: web.Request) -> web.Response:
    _check_version(request)
    _check_credentials(request)
    data = [
        {"id": model, "object": "model", "status": "succeeded", "capabilities": {}}
        for model in request.app[STATE].config.models
    ]
    return json_response({"object": "list", "data": data})


def add_azure_routes(router: web.UrlDispatcher, *, embeddings: Handler, responses: Handler) -> None:
    """`embeddings` and `responses` are the fake's OpenAI endpoints, which serve Azure's
    once its version and credentials are checked."""
    deployment = "/openai/deployments/{deployment}"
    router.add_post(deployment + "/chat/completions", _chat_completions)
    router.add_post(deployment + "/embeddings", _openai_endpoint(embeddings, versioned=True))
    router.add_post("/openai/v1/responses", _openai_endpoint(responses, versioned=False))
    router.add_get("/openai/models", _models)
