"""Google's OAuth 2.0 token endpoint and access tokens, for the fake upstream's Vertex AI.

A service account's key file names the endpoint in its `token_uri`; pointing it at the fake's
`POST /token` makes google-auth mint tokens here, as it does at
`https://oauth2.googleapis.com/token`. The fake trusts the service accounts it is told the
public key of (`trust`; `new_key_file` makes a service account's key file), checks
the grant's JWT assertion as Google does (RS256 signature by that key, issuer, audience,
issued and expiry times, the cloud-platform scope) and issues opaque bearer tokens that last
`FakeUpstreamConfig.google_token_lifetime_s`. Model paths then accept only tokens it issued
and that have not expired (`expire_all` ends every token at once, as a revocation would),
refusing others with Google's 401 UNAUTHENTICATED."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions, jwt

from aisonar.testing.fake_core import STATE, bearer_key, json_response
from aisonar.testing.fake_replies import JsonObject, random_id

TOKEN_PATH = "/token"
# google-auth signs its assertions for Google's endpoint, whatever the key file's token_uri.
ASSERTION_AUDIENCE = "https://oauth2.googleapis.com/token"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_MAX_ASSERTION_LIFETIME_S = 3600
_CLOCK_SKEW_S = 10
_KEY_BITS = 2048
_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_TOO_LONG = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
)
_MISSING = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


@dataclass
class GoogleAuthority:
    """The service accounts the fake trusts and the access tokens it issued."""

    # client_email -> public key (PEM)
    trusted: dict[str, bytes] = field(default_factory=dict)
    # access token -> when it expires (time.monotonic())
    tokens: dict[str, float] = field(default_factory=dict)
    minted: int = 0

    def trust(self, client_email: str, public_key_pem: bytes) -> None:
        self.trusted[client_email] = public_key_pem

    def expire_all(self) -> None:
        self.tokens = dict.fromkeys(self.tokens, 0.0)

    def valid(self, token: str | None) -> bool:
        return token is not None and self.tokens.get(token, 0.0) > time.monotonic()

    def issue(self, lifetime_s: float) -> str:
        token = random_id("ya29.fake-", 64)
        self.tokens[token] = time.monotonic() + lifetime_s
        self.minted += 1
        return token


GOOGLE = web.AppKey("fake_google_authority", GoogleAuthority)


def new_key_file(token_uri: str, project: str = "fake-project") -> JsonObject:
    """A new service account's key file, as the console downloads it, with a fresh RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": random_id("", 40).lower(),
        "private_key": private_pem.decode(),
        "client_email": f"{random_id('sonar-', 8).lower()}@{project}.iam.gserviceaccount.com",
        "client_id": str(10**20 + secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }


def public_key_of(info: JsonObject) -> bytes:
    """The public key (PEM) of a service account's key file."""
    key = serialization.load_pem_private_key(str(info["private_key"]).encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _grant_error(error: str, description: str) -> web.Response:
    return json_response({"error": error, "error_description": description}, 400)


def _decoded(assertion: str, public_key: bytes | None = None) -> dict[str, Any]:
    """An assertion's claims: checked against `public_key` and Google's audience (with the
    times), or just read when no key is given."""
    if public_key is None:
        claims = jwt.decode(assertion, verify=False)  # type: ignore[no-untyped-call]
    else:
        claims = jwt.decode(  # type: ignore[no-untyped-call]
            assertion,
            certs=public_key,
            audience=ASSERTION_AUDIENCE,
            clock_skew_in_seconds=_CLOCK_SKEW_S,
        )
    return dict(claims)


def _checked_claims(authority: GoogleAuthority, assertion: str) -> dict[str, Any] | str:
    """The assertion's claims once its signature and times check out, else why not."""
    try:
        issuer = _decoded(assertion).get("iss")
        public_key = authority.trusted.get(issuer) if isinstance(issuer, str) else None
        if public_key is None:
            return "Invalid grant: account not found"
        claims = _decoded(assertion, public_key)
    except (exceptions.GoogleAuthError, ValueError):
        return "Invalid JWT Signature."
    if claims["exp"] - claims["iat"] > _MAX_ASSERTION_LIFETIME_S:
        return _TOO_LONG
    if CLOUD_PLATFORM_SCOPE not in str(claims.get("scope", "")).split():
        return "Invalid OAuth scope or ID token audience provided."
    return claims


async def token(request: web.Request) -> web.Response:
    """`POST /token`: the JWT bearer grant (RFC 7523) of a service account."""
    form = await request.post()
    grant = form.get("grant_type")
    if grant != _JWT_GRANT:
        named = grant if isinstance(grant, str) else ""
        return _grant_error("unsupported_grant_type", f"Invalid grant_type: {named}")
    assertion = form.get("assertion")
    if not isinstance(assertion, str):
        return _grant_error("invalid_request", "Missing required parameter: assertion")
    authority = request.app[GOOGLE]
    claims = _checked_claims(authority, assertion)
    if isinstance(claims, str):
        return _grant_error("invalid_grant", claims)
    lifetime = request.app[STATE].config.google_token_lifetime_s
    access_token = authority.issue(lifetime)
    return json_response(
        {"access_token": access_token, "expires_in": int(lifetime), "token_type": "Bearer"}
    )


def refusal(request: web.Request, service: str, method: str) -> web.Response | None:
    """Google's 401 for a request without a live token the fake issued, else None."""
    presented = bearer_key(request) or None
    if request.app[GOOGLE].valid(presented):
        return None
    known = presented in request.app[GOOGLE].tokens
    reason = "CREDENTIALS_MISSING" if presented is None else "ACCESS_TOKEN_EXPIRED"
    if presented is not None and not known:
        reason = "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": service, "method": method},
    }
    error = {
        "code": 401,
        "message": _MISSING if presented is None else _UNAUTHENTICATED,
        "status": "UNAUTHENTICATED",
        "details": [info],
    }
    return json_response(
        {"error": error}, 401, {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
    )


def add_google_oauth_routes(app: web.Application) -> None:
    app[GOOGLE] = GoogleAuthority()
    app.router.add_post(TOKEN_PATH, token)
