"""The signer of a Bedrock channel whose secret is an AWS key pair
(`channels.credentials.aws_keys`): it signs each request with the keys themselves, or with
the temporary keys of the role they assume (`sts`)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from botocore.credentials import Credentials

from aisonar.channels.credentials import AwsKeys
from aisonar.gateway.wire.bedrock.signing import sign
from aisonar.gateway.wire.bedrock.sts import REFRESH_BEFORE_S, Role, TemporaryKeys, assume_role

BEDROCK_SERVICE = "bedrock"


def default_sts_url(region: str) -> str:
    return f"https://sts.{region}.amazonaws.com"


class BedrockSigner:
    """Signs each request of one channel. With a role, the temporary keys STS gives are kept
    until five minutes before they expire: one STS call per channel and hour, which
    concurrent requests wait for together."""

    def __init__(self, keys: AwsKeys, region: str) -> None:
        self._region = region
        self._keys = Credentials(keys.access_key_id, keys.secret_access_key, keys.session_token)
        self._role = (
            None
            if keys.role_arn is None
            else Role(
                keys.sts_endpoint or default_sts_url(region),
                region,
                self._keys,
                keys.role_arn,
                keys.external_id,
            )
        )
        self._temporary: TemporaryKeys | None = None
        self._lock = asyncio.Lock()

    async def authorize(
        self, session: aiohttp.ClientSession, method: str, url: str, body: bytes
    ) -> dict[str, str]:
        credentials = self._keys if self._role is None else await self._role_keys(session)
        return sign(credentials, BEDROCK_SERVICE, self._region, method, url, body)

    def refused(self, sent: dict[str, str]) -> bool:
        """A signature is made afresh for each request, so a refused one is not worth
        another try: the keys themselves were refused."""
        return False

    def _fresh(self) -> Credentials | None:
        held = self._temporary
        if held is None or held.expires_at - REFRESH_BEFORE_S <= time.monotonic():
            return None
        return held.credentials

    async def _role_keys(self, session: aiohttp.ClientSession) -> Credentials:
        assert self._role is not None
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self._fresh()
            if fresh is None:
                self._temporary = await assume_role(session, self._role)
                fresh = self._temporary.credentials
            return fresh
