"""The negative-limit flood: loops of requests whose output limits would make negative
holds, beside one loop of normal expensive requests, against one or more gateways."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import aiohttp
import orjson

HUGE = -1_000_000_000_000
HELLO = [{"role": "user", "content": "hello"}]
GEMINI = "/v1beta/models/metered-model:generateContent"
# Each of these would hold a negative amount if its limit were believed.
ABUSIVE = [
    ("/v1/chat/completions", {"model": "metered-model", "messages": HELLO, "max_tokens": HUGE}),
    (
        "/v1/chat/completions",
        {"model": "metered-model", "messages": HELLO, "max_completion_tokens": HUGE},
    ),
    ("/v1/chat/completions", {"model": "metered-model", "messages": HELLO, "n": -3}),
    ("/v1/messages", {"model": "metered-model", "messages": HELLO, "max_tokens": HUGE}),
    (
        GEMINI,
        {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": HUGE}},
    ),
    (
        GEMINI,
        {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"candidateCount": -2}},
    ),
    ("/v1/responses", {"model": "metered-model", "input": "hi", "max_output_tokens": HUGE}),
]
# Ten output tokens of metered-model (the fake echoes more): 0.01 held and charged.
LONG_PROMPT = [{"role": "user", "content": " ".join(["word"] * 50)}]
EXPENSIVE = orjson.dumps({"model": "metered-model", "messages": LONG_PROMPT, "max_tokens": 10})


async def flood(
    base_urls: list[str], secret: str, *, abusive_loops: int, abusive_each: int, normal: int
) -> tuple[Counter[int], Counter[int]]:
    """(statuses of the abusive requests, statuses of the normal ones)."""
    headers = {
        "Authorization": f"Bearer {secret}",
        "x-api-key": secret,
        "x-goog-api-key": secret,
        "Content-Type": "application/json",
    }
    urls = itertools.cycle(base_urls)
    abusive: Counter[int] = Counter()
    normal_statuses: Counter[int] = Counter()
    async with aiohttp.ClientSession(headers=headers) as session:

        async def send(url: str, body: bytes) -> int:
            async with session.post(url, data=body) as response:
                await response.read()
                return response.status

        async def abuse(loop: int) -> None:
            for i in range(abusive_each):
                path, body = ABUSIVE[(loop + i) % len(ABUSIVE)]
                abusive[await send(next(urls) + path, orjson.dumps(body))] += 1

        async def spend() -> None:
            for _ in range(normal):
                status = await send(next(urls) + "/v1/chat/completions", EXPENSIVE)
                normal_statuses[status] += 1

        await asyncio.gather(spend(), *(abuse(loop) for loop in range(abusive_loops)))
    return abusive, normal_statuses
