"""Errors of the management API beyond the domain's own."""

from __future__ import annotations

from aisonar.errors import AISonarError


class Unauthenticated(AISonarError):
    status = 401
    kind = "authentication_error"
    code = "invalid_token"


class Forbidden(AISonarError):
    status = 403
    kind = "permission_error"
    code = "forbidden"
