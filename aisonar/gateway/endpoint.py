"""What a route of the gateway's app is: its HTTP method, its handler, and the client
format its errors are written in (the pipeline answers and records its own). The
packages above the gateway (ingest) declare their routes with it, and the app mounts them
beside the relay's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aisonar.gateway.http import Exchange
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.wire.anthropic.client import AnthropicDialect
from aisonar.gateway.wire.dialect import Dialect
from aisonar.gateway.wire.gemini.client import GeminiDialect
from aisonar.gateway.wire.openai.client import OpenAIDialect

Handler = Callable[[GatewayServices, Exchange], Awaitable[None]]

OPENAI, ANTHROPIC, GEMINI = OpenAIDialect(), AnthropicDialect(), GeminiDialect()


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    handler: Handler
    dialect: Dialect = OPENAI
    # Whether its body is always JSON, checked as it is read (body/json_body.py); not the
    # reports', which may come gzip-compressed or as protobuf.
    json_body: bool = True
