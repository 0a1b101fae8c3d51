"""OpenAI and OpenAI-compatible upstreams: the base URL is what the official SDK takes
(`https://api.openai.com/v1`); the gateway appends the endpoint's own path."""

from __future__ import annotations

from aisonar.channels.models import ChannelWithSecret


def openai_headers(channel: ChannelWithSecret) -> dict[str, str]:
    """Built once per channel, not per request."""
    return {
        "Authorization": f"Bearer {channel.api_key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "Accept-Encoding": "identity",
    }
