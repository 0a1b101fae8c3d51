"""Errors of the hot path. Each wire format renders them in its own shape."""

from __future__ import annotations

import math

from aisonar.errors import AISonarError, InvalidInput


class InvalidRequest(InvalidInput):
    pass


class AuthenticationFailed(AISonarError):
    status = 401
    kind = "authentication_error"
    code = "invalid_api_key"


class AddressNotAllowed(AISonarError):
    status = 403
    kind = "permission_error"
    code = "ip_not_allowed"


class IngestOnlyKey(AISonarError):
    status = 403
    kind = "permission_error"
    code = "ingest_only_key"

    def __init__(self) -> None:
        super().__init__(
            "This API key can only report usage (scope ingest): it cannot call models."
        )


class ModelNotAllowed(AISonarError):
    status = 403
    kind = "permission_error"
    code = "model_not_allowed"


class ModelNotFound(AISonarError):
    status = 404
    kind = "not_found_error"
    code = "model_not_found"


class RouteNotFound(AISonarError):
    status = 404
    kind = "not_found_error"
    code = "unknown_url"


class ClientDisconnected(AISonarError):
    status = 499
    kind = "client_disconnected"


class ServerShuttingDown(AISonarError):
    """A request still running when the shutdown grace ran out."""

    status = 503
    kind = "server_shutting_down"
    retry_after = "1"

    def __init__(self) -> None:
        super().__init__("The gateway is shutting down; retry the request.")


class MethodNotAllowed(AISonarError):
    status = 405
    kind = "invalid_request_error"
    code = "method_not_allowed"


class PayloadTooLarge(AISonarError):
    status = 413
    kind = "invalid_request_error"
    code = "request_too_large"


class UpstreamUnavailable(AISonarError):
    status = 502
    kind = "upstream_error"
    code = "upstream_unavailable"


class UnreadableUpstream(UpstreamUnavailable):
    def __init__(self) -> None:
        super().__init__("The upstream provider answered something the gateway could not read.")


class UpstreamUnreachable(UpstreamUnavailable):
    """No connection could be made: whatever the request, the channel is at fault."""


class UpstreamTimeout(AISonarError):
    status = 504
    kind = "upstream_error"
    code = "upstream_timeout"


class UpstreamRejected(AISonarError):
    """The upstream answered with an error status; its sanitized message, and the field
    at fault (`param`) and error `code` it named, are passed on."""

    kind = "upstream_error"

    def __init__(
        self,
        status: int,
        message: str,
        kind: str | None,
        retry_after: str | None,
        *,
        upstream_status: int | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, param=param)
        self.code = code
        self.status = status
        self.kind = kind or self.kind
        self.retry_after = retry_after
        # What the upstream itself answered, where the client is told another status.
        self.upstream_status = upstream_status or status

    @property
    def recorded_message(self) -> str:
        # The upstream's text may quote the request; keep only what we know is safe.
        return f"upstream answered HTTP {self.status} ({self.kind})"


def upstream_details(error: AISonarError) -> dict[str, str]:
    """The field at fault and the error code an upstream named, for the formats without
    a place of their own for them (OpenAI's has: `param` and `code`)."""
    if not isinstance(error, UpstreamRejected):
        return {}
    named = {"param": error.param, "code": error.code}
    return {name: value for name, value in named.items() if value is not None}


class NoHealthyChannel(AISonarError):
    """Every channel of the model is out of rotation after failures."""

    status = 503
    kind = "upstream_error"
    code = "no_healthy_channel"

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            "Every upstream channel for this model is recovering from failures; retry shortly."
        )
        self.retry_after = str(max(1, math.ceil(retry_after_s)))
