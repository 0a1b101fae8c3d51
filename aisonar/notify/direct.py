"""Email sent at once, outside notices: the code that confirms a new email address goes to
an address that is no user's yet, and must never be stored, so no notice can carry it.
The request that asks for it waits for the mail server's answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aisonar.clock import utcnow
from aisonar.errors import AISonarError
from aisonar.i18n import N_, Language
from aisonar.notify.email import compose
from aisonar.notify.render import render_mail
from aisonar.notify.sender import Mail

log = logging.getLogger(__name__)


class EmailNotSent(AISonarError):
    status = 503
    kind = "api_error"
    code = "email_not_sent"


class EmailNotConfigured(AISonarError):
    """What needs an email sent at once cannot be done on a server that sends none."""

    status = 403
    kind = "permission_error"
    code = "email_not_configured"


@dataclass(frozen=True)
class Recipient:
    name: str
    address: str
    language: Language
    # Named in the message, as notices name the reader's organization.
    org_name: str


def require_mail(mail: Mail | None) -> Mail:
    if mail is None:
        raise EmailNotConfigured(
            N_(
                "This server sends no email (AISONAR_SMTP_URL is not set), so it cannot send the "
                "code that confirms a new address; ask an operator to change it."
            )
        )
    return mail


async def send_now(mail: Mail, to: Recipient, template: str, data: dict[str, Any]) -> None:
    """Render `templates/<template>` in the recipient's language and send it; EmailNotSent
    when the mail server does not take it."""
    rendered = render_mail(
        template,
        data,
        language=to.language,
        recipient_name=to.name,
        org_name=to.org_name,
        at=utcnow(),
        security=True,
    )
    outcome = await mail.mailer.send(compose(mail.sender, to.name, to.address, rendered))
    if not outcome.delivered:
        log.warning("%s could not be sent: %s", template, outcome.error)
        raise EmailNotSent(
            N_("The email could not be sent to that address; check it, or try again later.")
        )
