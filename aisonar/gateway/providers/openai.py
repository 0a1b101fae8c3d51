"""OpenAI and OpenAI-compatible upstreams: the base URL is what the official SDK takes
(`https://api.openai.com/v1`); the gateway appends the endpoint's own path."""

from __future__ import annotations

from aisonar.channels.models import ChannelWithSecret


def openai_target(channel: ChannelWithSecret, path: str) -> tuple[str, dict[str, str]]:
    headers = {
        "Authorization": f"Bearer {channel.api_key}",
        "Content-Type": "application/json",
        "Accept-Encoding": "identity",
    }
    return channel.channel.base_url + path, headers
