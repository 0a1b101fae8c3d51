"""The console's re-authentication before the most sensitive changes (key rotation, new
access tokens): a form for such a change carries a `current_password` field
(`reauth_field.html`) while the session has not proved its password within
`AISONAR_REAUTH_WINDOW_S`; the handler proves it before it changes anything."""

from __future__ import annotations

from fastapi import Request

from aisonar.accounts.services import prove_password, recently_authenticated
from aisonar.console.csrf import Form
from aisonar.console.visit import MemberVisit
from aisonar.i18n import N_
from aisonar.web.deps import client_ip, services
from aisonar.web.errors import ReauthenticationRequired

PASSWORD_FIELD = "current_password"


def password_needed(member: MemberVisit) -> bool:
    """Whether a sensitive form shown now must ask for the password."""
    assert member.session is not None
    return not recently_authenticated(member.session, member.request.app.state.settings)


async def confirm_password(request: Request, member: MemberVisit, form: Form) -> None:
    """Passes when the session proved its password recently or the form proves it now;
    a missing or wrong password is refused (throttled like sign-ins)."""
    if not password_needed(member):
        return
    password = form.secret(PASSWORD_FIELD)
    if not password:
        raise ReauthenticationRequired(N_("Confirm your password first."))
    assert member.session is not None
    settings = request.app.state.settings
    running = services(request)
    await prove_password(
        running.engine,
        running.limiter.store,
        settings,
        member.session,
        password,
        client_ip(request),
    )
