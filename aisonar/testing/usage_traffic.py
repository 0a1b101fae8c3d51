"""Usage events as a busy installation produces them, for benchmarks and tests: `orgs`
organizations of 5 users with one key each, each organization using 3 of 12 models (on 3
providers, over 8 channels), 3 % client errors and 1 % upstream errors, 60 % streamed,
log-normal latencies and token counts, each key's client addresses on its own /24."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from aisonar.usage.models import UsageEvent

MODELS = (
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1"),
    ("openai", "o4-mini"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-haiku-4-5"),
    ("anthropic", "claude-opus-4-1"),
    ("gemini", "gemini-2.5-flash"),
    ("gemini", "gemini-2.5-pro"),
    ("gemini", "gemini-2.0-flash"),
    ("openai", "text-embedding-3-small"),
    ("openai", "gpt-4o-audio"),
)
CHANNELS = {"openai": 4, "anthropic": 2, "gemini": 2}


def generated(orgs: int, start: datetime, per_second: float, seed: int = 7) -> Iterator[UsageEvent]:
    """Endless events, `per_second` of them per second of event time from `start`."""
    rng = random.Random(seed)
    step = timedelta(seconds=1 / per_second)
    at = start
    number = 0
    while True:
        org = rng.randrange(orgs)
        user = rng.randrange(5)
        provider, model = MODELS[(org + 4 * rng.randrange(3)) % len(MODELS)]
        roll = rng.random()
        status = 429 if roll < 0.03 else 502 if roll < 0.04 else 200
        stream = rng.random() < 0.6
        latency = max(5, int(rng.lognormvariate(6.5, 0.9)))
        output = 0 if status != 200 else int(rng.lognormvariate(5, 1))
        prompt = int(rng.lognormvariate(6.5, 1.2))
        number += 1
        yield UsageEvent(
            id=f"req_bench{seed:04x}{number:08x}",
            started_at=at,
            org_id=f"org_bench_{org:05d}",
            user_id=f"usr_bench_{org:05d}_{user}",
            key_id=f"key_bench_{org:05d}_{user}",
            client_ip=f"10.{org % 256}.{user}.{rng.randrange(256)}",
            endpoint="/v1/chat/completions",
            requested_model=model,
            upstream_model=model,
            channel_id=f"chn_{provider}_{org % CHANNELS[provider]}",
            stream=stream,
            status_code=status,
            error_type=None if status == 200 else "rate_limit_error",
            error_message=None,
            input_tokens=prompt,
            cached_input_tokens=prompt // 4 if rng.random() < 0.3 else 0,
            output_tokens=output,
            reasoning_tokens=0,
            cache_write_tokens=0,
            tokens_estimated=False,
            cost=(prompt * 150 + output * 600) // 1000,
            price_version="genai-prices bench",
            latency_ms=latency,
            ttft_ms=max(1, latency // 4) if stream else None,
            provider=provider,
        )
        at += step
