"""Microsoft Entra ID access tokens for an Azure OpenAI channel: the OAuth 2.0 client
credentials grant of the channel's app registration, minted on the first request, kept
in memory (never stored) and minted again shortly before it expires."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from aisonar.channels.credentials import EntraClient
from aisonar.gateway.errors import UpstreamRejected, UpstreamUnavailable

if TYPE_CHECKING:
    import aiohttp

# The audience of Azure OpenAI (Azure AI services) tokens.
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
# A token is renewed this long before it expires (or halfway through a shorter life).
RENEW_BEFORE_S = 300.0


class _TokenAnswer(msgspec.Struct):
    access_token: str | None = None
    expires_in: float | str | None = None
    error: str | None = None


class EntraSigner:
    """Adds `Authorization: Bearer <token>`; concurrent requests share one minting."""

    def __init__(self, client: EntraClient, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._minting: asyncio.Lock | None = None

    async def authorize(
        self, session: aiohttp.ClientSession, method: str, url: str, body: bytes
    ) -> dict[str, str]:
        if self._token is None or self._clock() >= self._renew_at:
            await self._renew(session)
        return {"Authorization": f"Bearer {self._token}"}

    def refused(self, sent: dict[str, str]) -> bool:
        """Azure refused the token in `sent` (revoked, or expired early): forget it, so
        the request is sent once more with a new one."""
        if sent.get("Authorization") == f"Bearer {self._token}":
            self._token = None
        return True

    async def _renew(self, session: aiohttp.ClientSession) -> None:
        if self._minting is None:
            self._minting = asyncio.Lock()
        async with self._minting:
            if self._token is not None and self._clock() < self._renew_at:
                return
            token, lifetime_s = await self._mint(session)
            self._token = token
            self._renew_at = self._clock() + lifetime_s - min(RENEW_BEFORE_S, lifetime_s / 2)

    async def _mint(self, session: aiohttp.ClientSession) -> tuple[str, float]:
        client = self._client
        form = {
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "scope": COGNITIVE_SERVICES_SCOPE,
        }
        async with session.post(client.token_url, data=form) as response:
            status, raw = response.status, await response.read()
        try:
            answer = msgspec.json.decode(raw, type=_TokenAnswer)
        except (msgspec.ValidationError, msgspec.DecodeError):
            answer = _TokenAnswer()
        if status >= 500 or status == 429:
            raise UpstreamUnavailable(f"Microsoft Entra ID answered HTTP {status}.")
        if status >= 400 or not answer.access_token:
            # Only the OAuth error code: the description may name the tenant or client.
            reason = answer.error or f"HTTP {status}"
            raise UpstreamRejected(
                502,
                f"Microsoft Entra ID refused the channel's client credentials ({reason}).",
                "upstream_error",
                None,
                upstream_status=status,
            )
        try:
            lifetime_s = float(answer.expires_in or 0)
        except ValueError:
            lifetime_s = 0.0
        return answer.access_token, max(lifetime_s, 0.0)
