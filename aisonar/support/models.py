"""Support requests: a person asks the operators of the installation for help, and the
two exchange messages until one of them closes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from aisonar.errors import AISonarError
from aisonar.i18n import N_

MAX_SUBJECT_CHARS = 200
MAX_BODY_CHARS = 10_000


class SupportStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class AuthorRole(StrEnum):
    USER = "user"
    OPERATOR = "operator"


class SupportRequestClosed(AISonarError):
    """The person writes on a closed request: they open a new one instead."""

    status = 409
    kind = "conflict_error"
    code = "support_request_closed"

    def __init__(self, request_id: str) -> None:
        super().__init__(
            N_("The support request {request_id} is closed; open a new one to write again."),
            request_id=request_id,
        )


@dataclass(frozen=True)
class SupportMessage:
    id: str
    request_id: str
    # None when an operator answered from the command line.
    author_user_id: str | None
    author_role: AuthorRole
    body: str
    created_at: datetime


@dataclass(frozen=True)
class SupportRequest:
    id: str
    org_id: str
    user_id: str
    subject: str
    status: SupportStatus
    created_at: datetime
    # The last message or change of status.
    updated_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class SupportThread(SupportRequest):
    """A request with its messages, oldest first."""

    messages: tuple[SupportMessage, ...]
