"""Access tokens of a Google service account, as Vertex AI takes them (`Authorization:
Bearer`): the `Signer` of a Vertex channel. Minted with google-auth, an OAuth 2.0 JWT grant
signed with the key file's private key and sent to its `token_uri`, and kept in memory only,
never stored.

google-auth mints synchronously (its `requests` transport), so a mint runs in a worker thread,
off the event loop; one at a time per service account (an `asyncio.Lock`), every request
meanwhile waiting for its token. A token is used until it comes within `REFRESH_MARGIN_S` of
its expiry (half its life, for tokens shorter than twice that), then replaced, so a request
never carries one about to run out; `refused` drops one the upstream refused anyway
(revoked, or the clocks disagree), and the request is sent once more with a new one.
Google's tokens last an hour: a mint (an RSA signature and one HTTPS round trip) every 55
minutes per channel."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from google.auth import exceptions
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from aisonar.gateway.errors import UpstreamRejected, UpstreamUnreachable

if TYPE_CHECKING:
    import aiohttp

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
REFRESH_MARGIN_S = 300.0
# The token endpoint answers in well under a second; a request waits no longer than this.
MINT_TIMEOUT_S = 10.0
DEFAULT_LIFETIME_S = 3600.0


def _credentials(info: Mapping[str, Any]) -> service_account.Credentials:
    """google-auth's credentials of a key file."""
    try:
        credentials: service_account.Credentials = (
            service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=[SCOPE]
            )
        )
    except ValueError as error:  # its private key is no RSA key in PEM
        raise _credentials_refused() from error
    return credentials


def _credentials_refused() -> UpstreamRejected:
    return UpstreamRejected(
        502,
        "The upstream provider rejected the gateway's credentials.",
        "upstream_error",
        None,
        upstream_status=401,
    )


class GoogleTokens:
    """The current access token of one service account."""

    def __init__(self, info: Mapping[str, Any]) -> None:
        self._info = info
        # Read from the key file at the first mint, in the worker thread.
        self._credentials: service_account.Credentials | None = None
        self._transport = partial(Request(), timeout=MINT_TIMEOUT_S)
        self._lock = asyncio.Lock()
        # A mint outlives a request that stopped waiting for it (its first-byte timeout):
        # the next request's mint waits for it in its thread, and takes its token.
        self._minting = threading.Lock()
        self._token: str | None = None
        self._fresh_until = 0.0  # time.monotonic()

    def _fresh(self) -> str | None:
        return self._token if time.monotonic() < self._fresh_until else None

    async def token(self) -> str:
        """A token good for a while yet: the one in hand, or a new one."""
        token = self._fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self._fresh()
            if token is None:
                token = await asyncio.to_thread(self._mint)
            return token

    async def authorize(
        self, session: aiohttp.ClientSession, method: str, url: str, body: bytes
    ) -> dict[str, str]:
        return {"Authorization": "Bearer " + await self.token()}

    def refused(self, sent: dict[str, str]) -> bool:
        """The upstream refused the token in `sent`: the next request mints a new one,
        unless another has already replaced it."""
        if sent.get("Authorization") == f"Bearer {self._token}":
            self._token = None
            self._fresh_until = 0.0
        return True

    def _mint(self) -> str:
        with self._minting:
            return self._fresh() or self._refresh()

    def _refresh(self) -> str:
        if self._credentials is None:
            self._credentials = _credentials(self._info)
        credentials = self._credentials
        try:
            credentials.refresh(self._transport)  # type: ignore[no-untyped-call]
        except exceptions.TransportError as error:
            raise UpstreamUnreachable("Google's token endpoint could not be reached.") from error
        except exceptions.RefreshError as error:
            raise _credentials_refused() from error
        token = str(credentials.token)
        # google-auth keeps the expiry as a naive UTC datetime; None when the endpoint gave no
        # `expires_in`, which Google's always does.
        expiry = credentials.expiry
        now = datetime.now(UTC).replace(tzinfo=None)
        lifetime = DEFAULT_LIFETIME_S if expiry is None else (expiry - now).total_seconds()
        self._token = token
        self._fresh_until = time.monotonic() + lifetime - min(REFRESH_MARGIN_S, lifetime / 2)
        return token
