"""Errors of the management API beyond the domain's own."""

from __future__ import annotations

from aisonar.errors import AISonarError
from aisonar.errors import Forbidden as Forbidden
from aisonar.i18n import N_

# What the API says; the console, whose forms ask for the password, says less.
API_REAUTHENTICATION = N_(
    "Confirm your password first: send it to POST /api/session/reauthenticate, then try again."
)


class Unauthenticated(AISonarError):
    status = 401
    kind = "authentication_error"
    code = "invalid_token"


class ReauthenticationRequired(AISonarError):
    """The session's password was proved too long ago for this change."""

    status = 403
    kind = "permission_error"
    code = "reauthentication_required"

    def __init__(self, message: str = API_REAUTHENTICATION) -> None:
        super().__init__(message)
