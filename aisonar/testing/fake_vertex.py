"""Google Vertex AI for the fake upstream: Gemini and Claude under one project and location.

`POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}`
serves `generateContent`, `streamGenerateContent` (`?alt=sse` for server-sent events) and
`countTokens` as `fake_gemini` does, with Vertex's additions (`createTime`, the usage's
`trafficType`); `.../publishers/anthropic/models/{model}:rawPredict` and `:streamRawPredict`
serve Anthropic's Messages as `fake_anthropic` does, from a body without `model` (the path
names it) and with an `anthropic_version` (`vertex-2023-10-16`, or the dated version
recent SDKs send), as Vertex requires, and
`.../models/count-tokens:rawPredict` counts a Messages request's tokens (its body names the
model). `GET .../locations/{location}/endpoints` lists no endpoints (the health probe). The
same paths under `/v1beta1`. Every request needs a live access token from the fake's Google
OAuth endpoint (`fake_google_oauth`), else Google's 401."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from aisonar.testing import fake_anthropic, fake_gemini
from aisonar.testing.fake_core import admit, json_response
from aisonar.testing.fake_google_oauth import refusal
from aisonar.testing.fake_replies import OpenAIError, json_object

API_VERSIONS = ("v1", "v1beta1")
_SERVICE = "aiplatform.googleapis.com"
_RPC = "google.cloud.aiplatform.v1.PredictionService."
_ANTHROPIC_METHODS = {"rawPredict": False, "streamRawPredict": True}
_COUNT_TOKENS = "count-tokens"


def _method_name(method: str) -> str:
    """The RPC a path's method is, as Google's errors name it."""
    return _RPC + method[0].upper() + method[1:]


async def _gemini(request: web.Request, model: str, method: str) -> web.StreamResponse:
    if method not in fake_gemini.VERTEX_METHODS:
        raise web.HTTPNotFound()
    refused = refusal(request, _SERVICE, _method_name(method))
    if refused is not None:
        return refused
    admission = await admit(request, None, streaming=method == "streamGenerateContent")
    return await fake_gemini.vertex_answer(request, model, method, admission)


def _messages_body(body: object, model: str, stream: bool) -> dict[str, object]:
    """The Messages request a Vertex body stands for: Vertex's checks, then the model named."""
    document = json_object(body)
    if "model" in document:
        raise OpenAIError(400, "model: Extra inputs are not permitted", param="model")
    version = document.get("anthropic_version")
    if version is None:
        raise OpenAIError(400, "anthropic_version: Field required", param="anthropic_version")
    if not isinstance(version, str) or not version:
        message = "anthropic_version: Input should be a valid string"
        raise OpenAIError(400, message, param="anthropic_version")
    if (document.get("stream") is True) != stream:
        expected = "streamRawPredict" if document.get("stream") is True else "rawPredict"
        raise OpenAIError(400, f"stream: this request must be sent to :{expected}")
    messages = {name: value for name, value in document.items() if name != "anthropic_version"}
    return {**messages, "model": model}


async def _anthropic(request: web.Request, model: str, method: str) -> web.StreamResponse:
    stream = _ANTHROPIC_METHODS.get(method)
    if stream is None:
        raise web.HTTPNotFound()
    refused = refusal(request, _SERVICE, _method_name(method))
    if refused is not None:
        return refused
    admission = await admit(request, None, streaming=stream)
    if model == _COUNT_TOKENS and not stream:
        # Counting takes Anthropic's own body, model included.
        return fake_anthropic.count_answer(admission)
    body = _messages_body(admission.body, model, stream)
    return await fake_anthropic.answer_message(request, dataclasses.replace(admission, body=body))


_PUBLISHERS = {"google": _gemini, "anthropic": _anthropic}


async def _publisher_model(request: web.Request) -> web.StreamResponse:
    """`POST .../publishers/{publisher}/models/{model}:{method}`."""
    model, _, method = request.match_info["name"].rpartition(":")
    serve = _PUBLISHERS.get(request.match_info["publisher"])
    if not model or serve is None:
        raise web.HTTPNotFound()
    return await serve(request, model, method)


async def _endpoints(request: web.Request) -> web.Response:
    """`GET .../locations/{location}/endpoints`: the project deployed none of its own."""
    refused = refusal(request, _SERVICE, "google.cloud.aiplatform.v1.EndpointService.ListEndpoints")
    return refused if refused is not None else json_response({})


def is_anthropic_path(path: str) -> bool:
    """Whether errors on `path` take Anthropic's shape (Claude's own refusals on Vertex)."""
    return "/publishers/anthropic/models/" in path


def add_vertex_routes(router: web.UrlDispatcher) -> None:
    for version in API_VERSIONS:
        location = f"/{version}/projects/{{project}}/locations/{{location}}"
        router.add_post(location + "/publishers/{publisher}/models/{name}", _publisher_model)
        router.add_get(location + "/endpoints", _endpoints)
