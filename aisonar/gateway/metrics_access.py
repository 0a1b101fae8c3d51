"""Who may read `/metrics`. With `AISONAR_METRICS_TOKEN` set, whoever sends it as a bearer
token, from anywhere (anyone else: 401). Without it, only a client on the loopback
address, 127.0.0.0/8 or ::1 (anyone else: 403).

The client's address is the one the rest of the gateway sees: the connection's, or,
when the connection comes from a trusted proxy (`AISONAR_TRUSTED_PROXIES`), the address
its X-Forwarded-For names. A reverse proxy on the same host therefore does not make
every visitor it forwards local; a request whose address is unknown (a Unix socket) or
unreadable is refused like a remote one."""

from __future__ import annotations

import hmac
import ipaddress

from aisonar.errors import AISonarError
from aisonar.gateway.auth import presented_key
from aisonar.gateway.http import Exchange


class MetricsTokenRequired(AISonarError):
    status = 401
    kind = "authentication_error"
    code = "invalid_metrics_token"

    def __init__(self) -> None:
        super().__init__(
            "Send the metrics token (AISONAR_METRICS_TOKEN) as `Authorization: Bearer <token>`."
        )


class MetricsLoopbackOnly(AISonarError):
    status = 403
    kind = "permission_error"
    code = "metrics_loopback_only"

    def __init__(self) -> None:
        super().__init__(
            "/metrics answers only on the loopback address unless AISONAR_METRICS_TOKEN is set."
        )


def _is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    # A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def check_metrics_access(exchange: Exchange, token: str) -> None:
    """Raise unless the request may read the metrics."""
    if token:
        presented = presented_key(exchange.header(b"authorization"), None) or ""
        if not hmac.compare_digest(presented.encode("latin-1"), token.encode()):
            raise MetricsTokenRequired()
    elif not _is_loopback(exchange.client_ip):
        raise MetricsLoopbackOnly()
