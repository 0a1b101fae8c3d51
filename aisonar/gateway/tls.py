"""TLS served by `aisonar serve` itself (`--ssl-certfile/--ssl-keyfile`): TLS 1.3 only,
or from 1.2 when the operator allows it (`AISONAR_TLS_MIN_VERSION=1.2`), then with the
forward-secret AEAD suites alone (TLS 1.3's suites are all of that kind)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from functools import partial
from typing import Any

from aisonar.config import Settings

TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
# Mozilla's "intermediate" suites for TLS 1.2.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def tls_context(
    minimum: str, _config: object, default: Callable[[], ssl.SSLContext]
) -> ssl.SSLContext:
    """uvicorn's context (certificate and key loaded), refusing versions under `minimum`.
    A module-level function under `partial`, so that uvicorn's workers can be sent it."""
    context = default()
    context.minimum_version = TLS_VERSIONS[minimum]
    return context


def tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for the certificate of `settings`; none when it has none."""
    if settings.ssl_certfile is None:
        return {}
    return {
        "ssl_certfile": str(settings.ssl_certfile),
        "ssl_keyfile": str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        "ssl_ciphers": TLS12_CIPHERS,
        "ssl_context_factory": partial(tls_context, settings.tls_min_version),
    }
