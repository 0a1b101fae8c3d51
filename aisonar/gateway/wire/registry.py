"""The adapter serving each provider of `aisonar.channels.models.Provider`, and, for a
provider whose models speak several formats (Vertex AI: Claude in Anthropic's, the rest in
Gemini's), the adapter of each model (`adapter_for`); a preset of the OpenAI provider
(an OpenAI-compatible host, channels/presets.py) has an adapter of its own."""

from __future__ import annotations

from aisonar.channels.models import Channel, Provider
from aisonar.channels.presets import PRESETS, preset_of
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
_AZURE = AzureProvider(OpenAIProvider())

# Per channel: its headers, its signer and its health probe.
ADAPTERS: dict[str, UpstreamAdapter] = {
    Provider.OPENAI: OpenAIProvider(),
    Provider.ANTHROPIC: AnthropicProvider(),
    Provider.GEMINI: GeminiProvider(),
    # OpenAI's format on Azure's paths and credentials.
    Provider.AZURE: _AZURE,
    Provider.BEDROCK: BedrockProvider(),
    Provider.VERTEX: _VERTEX_GEMINI,
}


_HOSTS: dict[str, UpstreamAdapter] = {name: OpenAIProvider(p) for name, p in PRESETS.items()}


def channel_adapter(channel: Channel) -> UpstreamAdapter:
    """The adapter of a channel: its provider's, or its preset's."""
    preset = preset_of(channel)
    return ADAPTERS[channel.provider] if preset is None else _HOSTS[preset.name]


def adapter_for(
    channel: Channel, upstream_model: str, client_model: str | None = None
) -> UpstreamAdapter:
    """The adapter of `upstream_model` on `channel`: its format and paths; for an Azure
    deployment, knowing the model it serves (`client_model`, the name it is priced by)."""
    if channel.provider == Provider.VERTEX and is_claude(upstream_model):
        return _VERTEX_CLAUDE
    if channel.provider == Provider.AZURE and client_model is not None:
        return _AZURE.serving(client_model)
    return channel_adapter(channel)
