"""Inviting members by email through the management API (the API and the console):
`POST /api/orgs/{id}/users` with `"invite": true` adds a member without a password and
mails them a link to choose one; `POST /api/users/{id}/invite` sends a new invitation to a
member who has none yet, replacing the previous one (`accounts/invitations.py`).

Both need a server that sends email and refuse, creating nothing, without one. The mail
goes out once the change is committed, and the request waits for the mail server's
answer: a refusal is said (503), the member and their invitation stay, and it can be
sent again."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from aisonar.accounts.invitations import InvitationMailed
from aisonar.accounts.models import Role, User
from aisonar.accounts.password_reset import RESET_PAGE
from aisonar.accounts.principal import Principal
from aisonar.admin.password_reset import reset_link
from aisonar.config import Settings
from aisonar.errors import AISonarError
from aisonar.i18n import N_
from aisonar.notify.direct import EmailNotConfigured, EmailNotSent, send_now
from aisonar.notify.sender import Mail
from aisonar.web.errors import Forbidden


class InvitationNotSent(AISonarError):
    """The mail server did not take the invitation; the member and the token stay."""

    status = 503
    kind = "api_error"
    code = "invitation_not_sent"


class Invitation(BaseModel):
    user_id: str
    # Where the invitation went: the member's address.
    email: str
    # The link (and the token in it) works once, until then.
    expires_at: datetime


def invitation_mail(mailer: Mail | None) -> Mail:
    """How the invitation goes out; EmailNotConfigured on a server that sends no email."""
    if mailer is None:
        raise EmailNotConfigured(
            N_(
                "This server sends no email (AISONAR_SMTP_URL is not set), so it cannot send "
                "an invitation; give the member a first password instead."
            )
        )
    return mailer


async def send_invitation(mail: Mail, settings: Settings, mailed: InvitationMailed) -> bool:
    """Mail the invitation (the `invitation` template, in the member's language); False
    when the mail server did not take it (already logged)."""
    data = {
        "token": mailed.token,
        "link": reset_link(settings, mailed.token),
        "page": RESET_PAGE,
        "expires_at": mailed.expires_at.isoformat(),
        "inviter": mailed.inviter,
        "email": mailed.recipient.address,
        "role": mailed.role,
    }
    try:
        await send_now(mail, mailed.recipient, "invitation", data)
    except EmailNotSent:
        return False
    return True


def may_invite(caller: Principal, user: User) -> None:
    """Only the member's organization's admins (and operators) invite them; only an
    operator invites an operator."""
    if not caller.administers(user.org_id):
        raise Forbidden(N_("Only the organization's admins may send invitations."))
    if user.role == Role.OPERATOR and not caller.is_operator:
        raise Forbidden(N_("Only an operator may change an operator, or make one."))
