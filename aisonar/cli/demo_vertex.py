"""The demo's Vertex AI channel: Gemini and Claude through the fake upstream's Vertex paths,
authorized by a service account whose key file is made with the channel. The fake upstream
starts afresh each time and trusts no key of its own accord, so the demo hands it this
channel's key file at every start (`DemoAccess.vertex_key`)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.channels import services as channels
from aisonar.channels.services import service_account
from aisonar.crypto import SecretBox
from aisonar.testing.fake_google_oauth import new_key_file

DEMO_VERTEX_CHANNEL = "demo-fake-vertex"
DEMO_VERTEX_MODELS = (
    "gemini-2.5-flash-vertex=gemini-2.5-flash,claude-sonnet-4-5-vertex=claude-sonnet-4-5@20250929"
)
_PROJECT = "demo-project"
_OPTIONS = {"project": _PROJECT, "location": "us-east5"}


async def demo_vertex_key(
    conn: AsyncConnection, box: SecretBox, upstream_root: str
) -> dict[str, Any]:
    """The key file of the demo's Vertex channel, which is made with it when missing."""
    if DEMO_VERTEX_CHANNEL in {channel.name for channel in await channels.list_channels(conn)}:
        return service_account((await channels.get_channel(conn, box, DEMO_VERTEX_CHANNEL)).api_key)
    key = new_key_file(upstream_root + "/token", _PROJECT)
    await channels.create_channel(
        conn,
        box,
        name=DEMO_VERTEX_CHANNEL,
        provider="vertex",
        base_url=upstream_root,
        api_key=json.dumps(key),
        models=DEMO_VERTEX_MODELS,
        options=_OPTIONS,
    )
    return key
