"""The OpenAI-compatible hosts of the OpenAI provider's presets (channels/presets.py), as
the fake serves them at `/hosts/{preset}/v1`: OpenAI's chat completions and model list,
each in its host's dialect, so that a test fails when the gateway reads a host as if it
were OpenAI.

The dialects, as each host documents its API:

- deepseek: the cached part of the prompt as `prompt_cache_hit_tokens` (and the rest as
  `prompt_cache_miss_tokens`), no `prompt_tokens_details`;
- mistral: any field it does not know is refused with HTTP 422 (`stream_options`
  included); a stream's usage rides on its last chunk, unasked;
- groq: streams carry an `x_groq` object, the usage in it on the chunk that finishes
  the choice (and OpenAI's usage chunk when asked);
- xai: reasoning tokens are counted beside `completion_tokens`, not in it;
- openrouter: every answer reports its usage (streams too, asked or not) with its cost
  in credits (`usage.cost`);
- together, fireworks: OpenAI's fields;
- ollama, vllm: OpenAI's fields, and no key is checked.

A usage block queued with `report_usage_next` is given in OpenAI's convention (cached
tokens inside `prompt_tokens`, reasoning inside `completion_tokens`) and reported in the
host's."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from aiohttp import web

from aisonar.channels.presets import PRESETS
from aisonar.testing.fake_core import Admission, admit, bearer_key, json_response
from aisonar.testing.fake_replies import (
    JsonObject,
    OpenAIError,
    StreamPlan,
    completion_body,
    parse_chat,
    plan_completion,
    plan_stream,
    random_id,
)

# Streams a planned answer: fake_upstream's own sender.
Sender = Callable[[web.Request, Admission, StreamPlan], Awaitable[web.StreamResponse]]
_KEYLESS = frozenset(name for name, preset in PRESETS.items() if not preset.needs_key)
# Credits OpenRouter charges per token in and out, in the fake.
_OPENROUTER_CREDITS_PER_TOKEN = (0.000001, 0.000004)


def _detail(usage: JsonObject, group: str, name: str) -> int:
    value = (usage.get(group) or {}).get(name)
    return value if isinstance(value, int) else 0


def host_usage(host: str, usage: JsonObject) -> JsonObject:
    """An OpenAI-convention usage block as `host` reports it."""
    prompt, completion = int(usage["prompt_tokens"]), int(usage["completion_tokens"])
    cached = _detail(usage, "prompt_tokens_details", "cached_tokens")
    reasoning = _detail(usage, "completion_tokens_details", "reasoning_tokens")
    if host == "deepseek":
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_cache_hit_tokens": cached,
            "prompt_cache_miss_tokens": prompt - cached,
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }
    if host == "xai":
        return {
            **usage,
            "completion_tokens": completion - reasoning,
            "total_tokens": prompt + completion,
        }
    if host == "openrouter":
        per_in, per_out = _OPENROUTER_CREDITS_PER_TOKEN
        return {
            **usage,
            "cost": round(prompt * per_in + completion * per_out, 10),
            "is_byok": False,
        }
    return usage


def _host_stream(
    host: str, plan: StreamPlan, usage: JsonObject | None, asked: bool, choices: int
) -> StreamPlan:
    """OpenAI's stream (with its usage chunk when `asked`) as `host` streams it."""
    if usage is None:
        return plan
    reported = host_usage(host, usage)
    tail = [chunk for chunk in plan.tail if chunk.get("choices")]
    finish = tail[choices - 1]
    if host == "mistral":
        finish["usage"] = reported
        return StreamPlan(plan.head, plan.rounds, tail)
    if host == "groq":
        request_id = random_id("req_", 26)
        plan.head[0]["x_groq"] = {"id": request_id}
        finish["x_groq"] = {"id": request_id, "usage": reported}
    if asked or host == "openrouter":
        tail.append({**finish, "choices": [], "usage": reported})
    return StreamPlan(plan.head, plan.rounds, tail)


def _refuse_unknown_fields(host: str, body: JsonObject) -> None:
    if host == "mistral" and "stream_options" in body:
        raise OpenAIError(
            422,
            "Extra inputs are not permitted: body.stream_options",
            type="invalid_request_error",
            param="stream_options",
        )


def add_host_routes(router: web.UrlDispatcher, send_stream: Sender) -> None:
    async def chat_completions(request: web.Request) -> web.StreamResponse:
        host = _host(request)
        admission = await admit(request, None if host in _KEYLESS else bearer_key)
        _refuse_unknown_fields(host, admission.body)
        chat = parse_chat(admission.body)
        completion = plan_completion(chat, report_usage=admission.fault != "no_usage")
        if admission.usage is not None:
            completion = dataclasses.replace(completion, usage=admission.usage)
        if chat.stream:
            plan = plan_stream(completion, include_usage=chat.include_usage)
            host_plan = _host_stream(
                host, plan, completion.usage, chat.include_usage, len(completion.choices)
            )
            return await send_stream(request, admission, host_plan)
        await asyncio.sleep(admission.config.latency_s)
        body = completion_body(completion)
        if completion.usage is not None:
            body["usage"] = host_usage(host, completion.usage)
        return json_response(body)

    async def models(request: web.Request) -> web.Response:
        host = _host(request)
        admission = await admit(request, None if host in _KEYLESS else bearer_key)
        data = [
            {"id": model, "object": "model", "owned_by": host} for model in admission.config.models
        ]
        return json_response({"object": "list", "data": data})

    router.add_post("/hosts/{host}/v1/chat/completions", chat_completions)
    router.add_get("/hosts/{host}/v1/models", models)


def _host(request: web.Request) -> str:
    host = request.match_info["host"]
    if host not in PRESETS:
        raise web.HTTPNotFound()
    return host
