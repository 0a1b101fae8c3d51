"""Email notices over SMTP (`AISONAR_SMTP_URL`): a multipart message with the plain-text
and HTML bodies, sent with aiosmtplib. `smtp://` upgrades to TLS when the server offers
STARTTLS; `smtps://` speaks TLS from the start."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlparse

import aiosmtplib

from aisonar.notify.outcome import Outcome
from aisonar.notify.render import RenderedNotice

_PORTS = {"smtp": 25, "smtps": 465}
# Reply codes from 500 on are permanent; retrying the same message cannot succeed.
_PERMANENT = 500


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parsed = urlparse(url)
        if parsed.scheme not in _PORTS or not parsed.hostname:
            raise ValueError("AISONAR_SMTP_URL must look like smtp://user:password@host:port")
        return cls(
            hostname=parsed.hostname,
            port=parsed.port or _PORTS[parsed.scheme],
            implicit_tls=parsed.scheme == "smtps",
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
        )


def compose(sender: str, to_name: str, to_address: str, rendered: RenderedNotice) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((to_name, to_address))
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    # Tells mail servers and clients not to answer it automatically (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


class SmtpMailer:
    def __init__(self, server: SmtpServer, timeout_s: float) -> None:
        self._server = server
        self._timeout_s = timeout_s

    async def send(self, message: EmailMessage) -> Outcome:
        server = self._server
        try:
            await aiosmtplib.send(
                message,
                hostname=server.hostname,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.implicit_tls,
                timeout=self._timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            first = refused.recipients[0]
            return Outcome.failed(first.message, first.code, permanent=first.code >= _PERMANENT)
        except aiosmtplib.SMTPResponseException as error:
            return Outcome.failed(error.message, error.code, permanent=error.code >= _PERMANENT)
        except (aiosmtplib.SMTPException, OSError) as error:
            return Outcome.failed(f"{type(error).__name__}: {error}")
        return Outcome(delivered=True)
