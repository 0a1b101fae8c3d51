"""The adapter serving each provider of `aisonar.channels.models.Provider`."""

from __future__ import annotations

from aisonar.channels.models import Provider
from aisonar.gateway.wire.adapter import UpstreamAdapter
from aisonar.gateway.wire.anthropic.upstream import AnthropicProvider
from aisonar.gateway.wire.gemini.upstream import GeminiProvider
from aisonar.gateway.wire.openai.upstream import OpenAIProvider

ADAPTERS: dict[str, UpstreamAdapter] = {
    Provider.OPENAI: OpenAIProvider(),
    Provider.ANTHROPIC: AnthropicProvider(),
    Provider.GEMINI: GeminiProvider(),
}
