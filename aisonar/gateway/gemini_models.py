"""Gemini's `models.list` and `models.get`: the models the key may use, in Gemini's shape.

A model whose name (or upstream name) says it embeds supports embedContent and
batchEmbedContents; any other supports generateContent, streamGenerateContent and
countTokens. Pages follow Gemini's rules (`pageSize` 50 by default, at most 1000); the
page token is the last name listed, so a page stays right when channels change between
two calls."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from aisonar.billing.output_limits import model_output_limit
from aisonar.gateway.auth import authenticate
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.http import Exchange
from aisonar.gateway.routing import ChannelTable
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.wire.gemini.client import GeminiDialect, query_parameter

_DIALECT = GeminiDialect()
_DEFAULT_PAGE_SIZE = 50
_MAX_PAGE_SIZE = 1000
_GENERATION_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]
_EMBEDDING_METHODS = ["embedContent", "batchEmbedContents"]


def _entry(model: str, upstream: str, provider: str) -> dict[str, Any]:
    embeds = "embed" in model or "embed" in upstream
    entry: dict[str, Any] = {
        "name": f"models/{model}",
        "baseModelId": model,
        "displayName": model,
        "supportedGenerationMethods": _EMBEDDING_METHODS if embeds else _GENERATION_METHODS,
    }
    output_limit = None if embeds else model_output_limit(upstream, provider)
    if output_limit is not None:
        entry["outputTokenLimit"] = output_limit
    return entry


def _served_as(table: ChannelTable) -> dict[str, tuple[str, str]]:
    """Each model listed by name: its upstream name and provider on its first channel."""
    served: dict[str, tuple[str, str]] = {}
    by_priority = sorted(table.channels.values(), key=lambda entry: -entry.channel.priority)
    for entry in by_priority:
        for name, upstream in entry.channel.models.items():
            served.setdefault(name, (upstream, entry.channel.provider))
    return served


def _page_size(exchange: Exchange) -> int:
    given = query_parameter(exchange, "pageSize")
    if given is None:
        return _DEFAULT_PAGE_SIZE
    if not given.isdigit():
        raise InvalidRequest("`pageSize` must be a non-negative integer.", param="pageSize")
    return min(int(given), _MAX_PAGE_SIZE) or _DEFAULT_PAGE_SIZE


def _page_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _after(exchange: Exchange) -> str | None:
    """The last name of the previous page, from the client's `pageToken`."""
    token = query_parameter(exchange, "pageToken")
    if not token:
        return None
    try:
        return base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest(
            "`pageToken` is not a token this list gave.", param="pageToken"
        ) from None


async def list_models(services: GatewayServices, exchange: Exchange) -> None:
    identity = await authenticate(services.keys, _DIALECT.credential(exchange), exchange.client_ip)
    size, after = _page_size(exchange), _after(exchange)
    # models_for is sorted by name.
    models = [
        name for name in services.channels.models_for(identity) if after is None or name > after
    ]
    page = models[:size]
    served = _served_as(services.channels)
    answer: dict[str, Any] = {"models": [_entry(name, *served[name]) for name in page]}
    if len(models) > size:
        answer["nextPageToken"] = _page_token(page[-1])
    await exchange.respond(200, orjson.dumps(answer))


async def get_model(services: GatewayServices, exchange: Exchange, *, model: str) -> None:
    identity = await authenticate(services.keys, _DIALECT.credential(exchange), exchange.client_ip)
    route = services.channels.routes(identity, model)[0]
    await exchange.respond(200, orjson.dumps(_entry(model, route.upstream_model, route.provider)))
