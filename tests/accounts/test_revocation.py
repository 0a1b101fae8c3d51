"""Revoking a key from another process reaches the running gateway within a second."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import openai

from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, cli_environment

REVOCATION_DEADLINE_S = 1.0


async def test_revocation_from_the_command_line_reaches_the_server(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as client:
        assert [model.id async for model in client.models.list()]  # cached as valid now
        revoke = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aisonar",
            "key",
            "revoke",
            tenant.key_id,
            env=cli_environment(backend),
            stdout=subprocess.DEVNULL,
        )
        assert await revoke.wait() == 0
        revoked_at = time.monotonic()
        while True:
            try:
                await client.models.list()
            except openai.AuthenticationError as error:
                assert "revoked" in str(error)
                break
            assert time.monotonic() - revoked_at < REVOCATION_DEADLINE_S, "revocation too slow"
            await asyncio.sleep(0.02)
