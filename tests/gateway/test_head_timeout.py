"""Slow or idle connections cannot pile up: one that has not sent a whole request head
within AISONAR_REQUEST_HEAD_TIMEOUT_S of opening, or of its next request's first byte,
is closed, however it trickles bytes (slowloris); one idle between requests is closed
after AISONAR_KEEP_ALIVE_S, and not before; meanwhile normal requests are served. Raw
sockets over real TCP."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import suppress

import aiohttp
import pytest

from aisonar.testing.gateway_server import RunningGateway, free_port, running_gateway
from tests.support import Backend, start_gateway_process

HEAD_TIMEOUT_S = 0.5
KEEP_ALIVE_S = 2.0
# How long a test waits for the server to close a connection before it fails: many
# timeouts, and yet no test hangs.
GIVE_UP_S = 30.0
# A header line after header line, never the blank line that ends a head.
ENDLESS_HEAD = b"GET /healthz HTTP/1.1\r\nHost: sonar\r\n" + b"X-Slow: 1\r\n" * 1000
OK = b'{"status":"ok"}'
HEALTH_CHECK = b"GET /healthz HTTP/1.1\r\nHost: sonar\r\n\r\n"


@pytest.fixture
async def strict_gateway(backend: Backend) -> AsyncIterator[RunningGateway]:
    settings = backend.settings.model_copy(
        update={"request_head_timeout_s": HEAD_TIMEOUT_S, "keep_alive_s": KEEP_ALIVE_S}
    )
    async with running_gateway(settings) as running:
        yield running


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """What the server sent until it closed the connection (reset, when a byte of ours
    was still unread)."""
    try:
        return await asyncio.wait_for(reader.read(), GIVE_UP_S)
    except ConnectionResetError:
        return b""
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {GIVE_UP_S} s")


async def trickle(writer: asyncio.StreamWriter, data: bytes) -> None:
    """One byte at a time, a little apart, until the data (minutes of it) or the
    connection ends."""
    with suppress(ConnectionError):
        for offset in range(len(data)):
            writer.write(data[offset : offset + 1])
            await writer.drain()
            await asyncio.sleep(0.02)


async def test_a_head_sent_a_byte_at_a_time_is_cut_off(strict_gateway: RunningGateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", strict_gateway.port)
    sending = asyncio.create_task(trickle(writer, ENDLESS_HEAD))
    try:
        assert await closed_by_server(reader) == b""
    finally:
        sending.cancel()
        writer.close()


async def test_a_connection_that_sends_nothing_is_closed(strict_gateway: RunningGateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", strict_gateway.port)
    try:
        assert await closed_by_server(reader) == b""
    finally:
        writer.close()


async def test_after_a_response_the_next_head_has_its_deadline_too(
    strict_gateway: RunningGateway,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", strict_gateway.port)
    writer.write(HEALTH_CHECK)
    await writer.drain()
    assert (await reader.readuntil(OK)).startswith(b"HTTP/1.1 200")
    # uvicorn's keep-alive timer stops at the first byte of the next request.
    sending = asyncio.create_task(trickle(writer, ENDLESS_HEAD))
    try:
        assert await closed_by_server(reader) == b""
    finally:
        sending.cancel()
        writer.close()


async def test_a_connection_idles_between_requests_until_the_keep_alive_ends(
    strict_gateway: RunningGateway,
) -> None:
    """A pooled connection outlives the head timeout between requests (a client reusing
    it must not meet a reset), and is closed once the keep-alive has passed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", strict_gateway.port)
    try:
        for _ in range(2):
            writer.write(HEALTH_CHECK)
            await writer.drain()
            assert (await reader.readuntil(OK)).startswith(b"HTTP/1.1 200")
            await asyncio.sleep(HEAD_TIMEOUT_S * 2)
        assert await closed_by_server(reader) == b""
    finally:
        writer.close()


async def test_many_idle_connections_do_not_stop_a_normal_request(
    strict_gateway: RunningGateway,
) -> None:
    idle = [await asyncio.open_connection("127.0.0.1", strict_gateway.port) for _ in range(200)]
    try:
        for _, writer in idle:
            writer.write(ENDLESS_HEAD[:30])
        async with (
            aiohttp.ClientSession() as http,
            http.get(strict_gateway.url + "/healthz") as answer,
        ):
            assert answer.status == 200 and await answer.read() == OK
        for reader, _ in idle:
            assert await closed_by_server(reader) == b""
    finally:
        for _, writer in idle:
            writer.close()


async def test_aisonar_serve_closes_a_slow_head_too(backend: Backend) -> None:
    port = free_port()
    timeout = {"AISONAR_REQUEST_HEAD_TIMEOUT_S": str(HEAD_TIMEOUT_S)}
    server = await start_gateway_process(backend, port, extra_env=timeout)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sending = asyncio.create_task(trickle(writer, ENDLESS_HEAD))
        try:
            assert await closed_by_server(reader) == b""
        finally:
            sending.cancel()
            writer.close()
    finally:
        server.send_signal(signal.SIGTERM)
        await server.wait()
