"""Composition root: `create_app(settings)` builds the services; nothing lives in globals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aisonar.config import Settings
from aisonar.crypto import SecretBox
from aisonar.gateway.asgi import GatewayApp, Runtime
from aisonar.gateway.auth import KeyCache
from aisonar.gateway.cache_sync import current_change_id, follow_changes, load_channel_table
from aisonar.gateway.pipeline import GatewayServices
from aisonar.gateway.routing import ChannelTable
from aisonar.gateway.upstream import new_upstream_session
from aisonar.store.engine import create_engine
from aisonar.usage.writer import UsageWriter


def create_app(settings: Settings) -> GatewayApp:
    @asynccontextmanager
    async def lifespan(runtime: Runtime) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        box = SecretBox(settings.resolved_secret_key())
        engine = create_engine(settings.resolved_database_url)
        keys = KeyCache(engine, settings.key_cache_size)
        since = await current_change_id(engine)
        session = new_upstream_session(
            connect_timeout_s=settings.upstream_connect_timeout_s,
            total_timeout_s=settings.upstream_total_timeout_s,
            max_connections=settings.upstream_max_connections,
        )
        services = GatewayServices(
            engine=engine,
            keys=keys,
            channels=await load_channel_table(engine, box),
            session=session,
            max_body_bytes=settings.max_body_bytes,
        )
        writer = UsageWriter(
            engine,
            batch_size=settings.usage_batch_size,
            flush_interval_s=settings.usage_flush_interval_s,
            max_pending=settings.usage_queue_size,
        )
        runtime.services, runtime.writer = services, writer

        def install_channels(table: ChannelTable) -> None:
            services.channels = table

        writer_task = asyncio.create_task(writer.run(), name="usage-writer")
        sync_task = asyncio.create_task(
            follow_changes(
                engine,
                box,
                keys,
                install_channels,
                since=since,
                interval_s=settings.cache_poll_interval_s,
            ),
            name="cache-sync",
        )
        try:
            yield
        finally:
            sync_task.cancel()
            await writer.stop(writer_task)
            await session.close()
            await engine.dispose()

    return GatewayApp(lifespan)


def app_from_environment() -> GatewayApp:
    """The factory `aisonar serve --workers N` hands to uvicorn in each worker."""
    return create_app(Settings())
