"""Testing a channel: one minimal generation ("ping", one token) with the channel's own
key and adapter, outside the request path: nothing is routed, recorded or billed. The
command line (`aisonar channel test`) and the API (`POST /api/channels/{name}/test`)
both run it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from aisonar.channels.model_names import is_pattern, substitute, wildcard_part
from aisonar.channels.models import Channel, ChannelTimeouts, ChannelWithSecret
from aisonar.errors import AISonarError, InvalidInput
from aisonar.gateway.upstream import upstream_error
from aisonar.gateway.wire.registry import adapter_for
from aisonar.token_usage import TokenUsage

# A test waits at most this long for the whole answer, whatever the timeouts say.
TEST_TIMEOUT_CAP_S = 60.0


@dataclass(frozen=True)
class RoundTrip:
    status: int | None
    latency_ms: int
    usage: TokenUsage | None
    error: str | None


def model_to_test(channel: Channel, model: str | None) -> tuple[str, str]:
    """The model to ask for, as clients name it (default: the first the channel lists by
    name), and the name sent upstream."""
    if model is None:
        named = [name for name in channel.models if not is_pattern(name)]
        if not named:
            raise InvalidInput(
                f"channel {channel.name!r} lists only patterns "
                f"({', '.join(channel.models)}); name a model",
                param="model",
            )
        return named[0], channel.models[named[0]]
    if is_pattern(model):
        raise InvalidInput("give a model name, not a pattern", param="model")
    if model in channel.models:
        return model, channel.models[model]
    for pattern, upstream in channel.models.items():
        part = wildcard_part(pattern, model) if is_pattern(pattern) else None
        if part is not None:
            return model, substitute(upstream, part)
    raise InvalidInput(
        f"channel {channel.name!r} does not serve {model!r}; "
        f"its models: {', '.join(channel.models)}",
        param="model",
    )


def _hide(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret else text


async def round_trip(
    entry: ChannelWithSecret, upstream_model: str, defaults: ChannelTimeouts
) -> RoundTrip:
    """Ask the upstream for one token; `defaults` are the server's timeouts, for those
    the channel does not set."""
    channel, adapter = entry.channel, adapter_for(entry.channel, upstream_model)
    hub = {
        "model": upstream_model,
        "messages": [{"role": "user", "content": "ping"}],
        "max_tokens": 1,
    }
    body = adapter.request_from_hub(hub)
    own = channel.timeouts
    total_s = min(own.total_s or defaults.total_s or TEST_TIMEOUT_CAP_S, TEST_TIMEOUT_CAP_S)
    connect_s = own.connect_s or defaults.connect_s
    timeout = aiohttp.ClientTimeout(total=total_s, sock_connect=connect_s)
    started = time.perf_counter()

    def elapsed_ms() -> int:
        return round((time.perf_counter() - started) * 1000)

    url = adapter.url(channel, upstream_model, False)
    signer = adapter.signer(entry)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            sent = adapter.headers(entry)
            if signer is not None:
                async with asyncio.timeout(total_s):
                    sent |= await signer.authorize(session, "POST", url, body)
            async with session.post(url, data=body, headers=sent) as response:
                answer = await response.read()
                status, headers = response.status, dict(response.headers)
    except TimeoutError:
        return RoundTrip(
            None, elapsed_ms(), None, f"the upstream did not answer within {total_s:g} s"
        )
    except aiohttp.ClientError as error:
        reason = _hide(str(error) or type(error).__name__, entry.api_key)
        return RoundTrip(None, elapsed_ms(), None, f"the upstream could not be reached: {reason}")
    except AISonarError as error:
        # No credentials could be had for the request (a token endpoint refused them).
        return RoundTrip(None, elapsed_ms(), None, _hide(error.message, entry.api_key))
    latency_ms = elapsed_ms()
    if not 200 <= status < 300:
        message = upstream_error(status, answer, headers, entry.api_key).message
        return RoundTrip(status, latency_ms, None, f"HTTP {status}: {message}")
    try:
        adapter.response_to_hub(answer, upstream_model)
        usage = adapter.body_usage(answer)
    except (ValueError, TypeError, KeyError, AttributeError, AISonarError):
        unreadable = f"HTTP {status}, but not an answer in the {channel.provider} format"
        return RoundTrip(status, latency_ms, None, unreadable)
    return RoundTrip(status, latency_ms, usage, None)
