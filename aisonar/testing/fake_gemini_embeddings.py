"""The Gemini API's embeddings on the fake upstream: `:embedContent` and `:batchEmbedContents`.

A content embeds as the OpenAI fake's deterministic unit vector of its joined texts, of the
model's size (3072 for gemini-embedding-001, else 768), cut to `outputDimensionality` as
Gemini cuts it. Answers report `usageMetadata` with the prompt's tokens, unless the
"no_usage" fault leaves it out or a queued block replaces it. Requests are checked as the
API checks them, with its 400 INVALID_ARGUMENT messages.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from aisonar.testing.fake_core import Admission, json_response
from aisonar.testing.fake_embeddings import unit_vector
from aisonar.testing.fake_gemini_requests import get
from aisonar.testing.fake_replies import JsonObject, OpenAIError, json_object
from aisonar.usage.tokens import count_text_tokens

_DIMENSIONS = {"gemini-embedding-001": 3072}
_DEFAULT_DIMENSIONS = 768
MAX_BATCH = 100


def _violation(request_type: str, path: str, problem: str) -> OpenAIError:
    return OpenAIError(400, f"* {request_type}.{path}: {problem}\n")


def _text(request_type: str, path: str, content: Any) -> str:
    """A content's texts, joined: the embedding models read text only."""
    if not isinstance(content, dict):
        raise _violation(request_type, f"{path}content", "content is not specified")
    parts = get(content, "parts")
    if not isinstance(parts, list) or not parts:
        raise _violation(request_type, f"{path}content.parts", "contents.parts must not be empty.")
    texts = []
    for index, part in enumerate(parts):
        text = get(part, "text") if isinstance(part, dict) else None
        if not isinstance(text, str):
            problem = "only text parts can be embedded."
            raise _violation(request_type, f"{path}content.parts[{index}]", problem)
        texts.append(text)
    return " ".join(texts)


def _dimensions(request_type: str, path: str, request: JsonObject, model: str) -> int:
    full = _DIMENSIONS.get(model, _DEFAULT_DIMENSIONS)
    wanted = get(request, "outputDimensionality")
    if wanted is None:
        return full
    if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 1:
        problem = "output_dimensionality must be a positive integer."
        raise _violation(request_type, f"{path}output_dimensionality", problem)
    return min(wanted, full)


def _embed(request_type: str, path: str, request: Any, model: str) -> tuple[list[float], int]:
    """One request's embedding and its tokens; its `model`, when given, must be the URL's."""
    if not isinstance(request, dict):
        raise _violation(request_type, path.rstrip("."), "must be an object")
    named = get(request, "model")
    if named is not None and named != f"models/{model}":
        problem = f"the request's model {named} differs from the URL's, models/{model}."
        raise _violation(request_type, f"{path}model", problem)
    text = _text(request_type, path, get(request, "content"))
    dimensions = _dimensions(request_type, path, request, model)
    values = unit_vector(text, _DIMENSIONS.get(model, _DEFAULT_DIMENSIONS))[:dimensions]
    return values, count_text_tokens(text, model)


def _with_usage(reply: JsonObject, tokens: int, admission: Admission) -> JsonObject:
    if admission.usage is not None:
        return {**reply, "usageMetadata": admission.usage}
    if admission.fault == "no_usage":
        return reply
    return {**reply, "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens}}


async def embed_content(
    request: web.Request, model: str, admission: Admission
) -> web.StreamResponse:
    values, tokens = _embed("EmbedContentRequest", "", json_object(admission.body), model)
    await asyncio.sleep(admission.config.latency_s)
    return json_response(_with_usage({"embedding": {"values": values}}, tokens, admission))


async def batch_embed_contents(
    request: web.Request, model: str, admission: Admission
) -> web.StreamResponse:
    body = json_object(admission.body)
    requests = get(body, "requests")
    kind = "BatchEmbedContentsRequest"
    if not isinstance(requests, list) or not requests:
        raise _violation(kind, "requests", "requests is not specified")
    if len(requests) > MAX_BATCH:
        raise _violation(kind, "requests", f"at most {MAX_BATCH} requests can be in one batch.")
    embedded = [_embed(kind, f"requests[{i}].", item, model) for i, item in enumerate(requests)]
    reply = {"embeddings": [{"values": values} for values, _ in embedded]}
    await asyncio.sleep(admission.config.latency_s)
    return json_response(_with_usage(reply, sum(tokens for _, tokens in embedded), admission))
