"""Security headers on every console response (pages, redirects, static files): a
Content-Security-Policy that allows no inline script or style and nothing from other
origins, no sniffing, no framing, the referrer kept on this site; and pages, which show
personal data, never stored by a cache; over HTTPS (served with TLS, or through a trusted
proxy that says so in X-Forwarded-Proto), Strict-Transport-Security, so that browsers
come back over HTTPS only. The management API under `/api/` is left as it is."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
# Two years, the preload list's recommendation; subdomains are the operator's to include.
STRICT_TRANSPORT_SECURITY = "max-age=63072000"
STATIC_PREFIX = "/static/"


class ConsoleHeaders:
    """ASGI middleware: the headers above on every response outside `/api/`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/api/"):
            await self.app(scope, receive, send)
            return
        static = path.startswith(STATIC_PREFIX)
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if secure:
                    headers["strict-transport-security"] = STRICT_TRANSPORT_SECURITY
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
