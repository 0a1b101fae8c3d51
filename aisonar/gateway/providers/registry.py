"""The adapter serving each provider of `aisonar.channels.models.Provider`."""

from __future__ import annotations

from aisonar.channels.models import Provider
from aisonar.gateway.providers.adapter import UpstreamAdapter
from aisonar.gateway.providers.anthropic import AnthropicProvider
from aisonar.gateway.providers.gemini import GeminiProvider
from aisonar.gateway.providers.openai import OpenAIProvider

ADAPTERS: dict[str, UpstreamAdapter] = {
    Provider.OPENAI: OpenAIProvider(),
    Provider.ANTHROPIC: AnthropicProvider(),
    Provider.GEMINI: GeminiProvider(),
}
