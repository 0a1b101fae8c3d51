"""The adapter serving each provider of `aisonar.channels.models.Provider`, and, for a
provider whose models speak several formats (Vertex AI: Claude in Anthropic's, the rest in
Gemini's), the adapter of each model (`adapter_for`)."""

from __future__ import annotations

from aisonar.channels.models import Provider
from aisonar.gateway.wire.adapter import UpstreamAdapter
from aisonar.gateway.wire.anthropic.upstream import AnthropicProvider
from aisonar.gateway.wire.azure.upstream import AzureProvider
from aisonar.gateway.wire.bedrock.upstream import BedrockProvider
from aisonar.gateway.wire.gemini.upstream import GeminiProvider
from aisonar.gateway.wire.openai.upstream import OpenAIProvider
from aisonar.gateway.wire.vertex.publishers import ANTHROPIC, GOOGLE, is_claude
from aisonar.gateway.wire.vertex.upstream import VertexPublisherModels

_VERTEX_GEMINI = VertexPublisherModels(GOOGLE, GeminiProvider())
_VERTEX_CLAUDE = VertexPublisherModels(ANTHROPIC, AnthropicProvider())

# Per channel: its headers, its signer and its health probe.
ADAPTERS: dict[str, UpstreamAdapter] = {
    Provider.OPENAI: OpenAIProvider(),
    Provider.ANTHROPIC: AnthropicProvider(),
    Provider.GEMINI: GeminiProvider(),
    # OpenAI's format on Azure's paths and credentials.
    Provider.AZURE: AzureProvider(OpenAIProvider()),
    Provider.BEDROCK: BedrockProvider(),
    Provider.VERTEX: _VERTEX_GEMINI,
}


def adapter_for(provider: str, upstream_model: str) -> UpstreamAdapter:
    """The adapter of `upstream_model` on a channel of `provider`: its format and paths."""
    if provider == Provider.VERTEX and is_claude(upstream_model):
        return _VERTEX_CLAUDE
    return ADAPTERS[provider]
