"""The base of every domain error. Errors carry data; each wire format renders them once."""

from __future__ import annotations


class AISonarError(Exception):
    """An error a client or operator should see, with its HTTP status and kind."""

    status: int = 500
    kind: str = "server_error"
    code: str | None = None
    retry_after: str | None = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    @property
    def recorded_message(self) -> str:
        """The message kept in usage records: written by the gateway, never content."""
        return self.message


class InvalidInput(AISonarError):
    status = 400
    kind = "invalid_request_error"


class NotFound(AISonarError):
    status = 404
    kind = "not_found_error"


class AlreadyExists(AISonarError):
    status = 409
    kind = "conflict_error"
