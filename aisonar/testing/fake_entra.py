"""The fake's Microsoft Entra ID: the OAuth 2.0 client credentials grant at
`POST /{tenant}/oauth2/v2.0/token` (the fake's own address is the `authority_host` of the
credentials under test), issuing short-lived access tokens for the Azure OpenAI scope, and
the check the fake Azure resource makes of them, refusing unknown and expired ones.

The client secret must be the fake's configured `api_key` when it has one (any other is
refused as Entra refuses a wrong secret). `POST /_fake/entra {"token_lifetime_s": N}` sets
how long the next tokens last; it answers how many were minted so far."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web

from aisonar.testing.fake_core import STATE, json_response, read_json
from aisonar.testing.fake_replies import JsonObject, invalid_param, json_object

AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"
_GRANT = "client_credentials"


@dataclass
class FakeEntra:
    token_lifetime_s: float = 3600.0
    # token -> when it expires (time.monotonic())
    issued: dict[str, float] = field(default_factory=dict)
    minted: int = 0

    def issue(self) -> str:
        token = "eyJ0eXAiOiJKV1QifQ." + secrets.token_urlsafe(32)
        self.issued[token] = time.monotonic() + self.token_lifetime_s
        self.minted += 1
        return token

    def valid(self, token: str) -> bool:
        expires_at = self.issued.get(token)
        return expires_at is not None and time.monotonic() < expires_at


ENTRA = web.AppKey("fake_entra", FakeEntra)


def _oauth_error(status: int, error: str, code: int, description: str) -> web.Response:
    body: JsonObject = {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": secrets.token_hex(16),
        "correlation_id": secrets.token_hex(16),
    }
    return json_response(body, status)


async def _token(request: web.Request) -> web.Response:
    form = await request.post()
    if form.get("grant_type") != _GRANT:
        return _oauth_error(
            400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
        )
    if form.get("scope") != AZURE_SCOPE:
        return _oauth_error(400, "invalid_scope", 70011, "The provided scope is not valid.")
    if not form.get("client_id"):
        return _oauth_error(
            400, "invalid_request", 900144, "The request body must contain client_id."
        )
    expected = request.app[STATE].config.api_key
    if not form.get("client_secret") or (
        expected is not None and form.get("client_secret") != expected
    ):
        return _oauth_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
    entra = request.app[ENTRA]
    lifetime = int(entra.token_lifetime_s)
    return json_response(
        {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": entra.issue(),
        }
    )


async def _configure(request: web.Request) -> web.Response:
    entra = request.app[ENTRA]
    body = json_object(await read_json(request))
    if "token_lifetime_s" in body:
        value = body["token_lifetime_s"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise invalid_param("token_lifetime_s", "a number of seconds")
        entra.token_lifetime_s = float(value)
    return json_response({"token_lifetime_s": entra.token_lifetime_s, "minted": entra.minted})


def add_entra_routes(app: web.Application) -> None:
    app[ENTRA] = FakeEntra()
    app.router.add_post("/{tenant}/oauth2/v2.0/token", _token)
    app.router.add_post("/_fake/entra", _configure)
