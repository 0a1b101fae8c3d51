"""Named presets of the OpenAI provider: the OpenAI-compatible hosts an operator picks by
name (`--preset deepseek`, the `preset` option) instead of typing a base URL, each with
the public endpoint its SDK examples use, the provider its models are priced under in
the `genai-prices` catalogue, and the few ways its API departs from OpenAI's that the
gateway must know to meter it exactly (docs/providers/openai-compatible.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aisonar.channels.models import Channel, Provider

PRESET_OPTION = "preset"


@dataclass(frozen=True)
class Preset:
    name: str
    base_url: str
    # The `genai-prices` provider its model names are priced under; a self-hosted server
    # (Ollama, vLLM) is priced by the operator only, under its own name.
    prices_under: str
    # Ollama and vLLM (unless started with `--api-key`) check no key: a channel may have none.
    needs_key: bool = True
    # Mistral refuses any field it does not know, `stream_options` included (HTTP 422), and
    # reports a stream's usage on its last chunk without being asked.
    takes_stream_options: bool = True
    # xAI counts reasoning tokens beside `completion_tokens`, not inside it as OpenAI does.
    reasoning_beside_completion: bool = False


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("deepseek", "https://api.deepseek.com", "deepseek"),
        Preset("mistral", "https://api.mistral.ai/v1", "mistral", takes_stream_options=False),
        Preset("groq", "https://api.groq.com/openai/v1", "groq"),
        Preset("xai", "https://api.x.ai/v1", "x-ai", reasoning_beside_completion=True),
        Preset("openrouter", "https://openrouter.ai/api/v1", "openrouter"),
        Preset("together", "https://api.together.xyz/v1", "together"),
        Preset("fireworks", "https://api.fireworks.ai/inference/v1", "fireworks"),
        Preset("ollama", "http://localhost:11434/v1", "ollama", needs_key=False),
        Preset("vllm", "http://localhost:8000/v1", "vllm", needs_key=False),
    )
}

# The price providers whose catalogue alone prices their models: a host's name for a model
# is not looked up under another provider's prices.
PRICED_BY_HOST = frozenset(preset.prices_under for preset in PRESETS.values())


def preset_named(provider: str, options: Mapping[str, str]) -> Preset | None:
    """The preset a channel's options name (checked when they were stored), or None."""
    if provider != Provider.OPENAI:
        return None
    return PRESETS.get(options.get(PRESET_OPTION, ""))


def preset_of(channel: Channel) -> Preset | None:
    return preset_named(channel.provider, channel.options)


def served_by(channel: Channel) -> str:
    """The provider a channel's models are priced and recorded under: an OpenAI-compatible
    host's own (`deepseek`, `x-ai`), else the channel's provider."""
    preset = preset_of(channel)
    return channel.provider if preset is None else preset.prices_under
