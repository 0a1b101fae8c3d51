"""The privacy center, for every person: their data export (the ZIP of `GET /api/me/export`,
made when asked, counted and audited there, and sent to them only: it is always the
signed-in person's own), their consents (`/api/me/consents`: the current choice for each
purpose, given or withdrawn; the analytics one through the cookie banner's code, so that
the browser's cookie says the same), the policies with the version they acknowledged
(`/api/me/policies`), and asking for their account to be deleted (`POST
/api/me/deletion-request`, with their password: the account is disabled at once, so the
person is signed out and shown a page that says what happens next)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError

from aisonar.accounts.services import COOKIE_NAME
from aisonar.console.auth import invalid
from aisonar.console.csrf import checked_form
from aisonar.console.navigation import N_
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit, Visitor
from aisonar.errors import AISonarError, InvalidInput
from aisonar.exports.services import own_export
from aisonar.privacy.services import (
    AGE_CONFIRMED,
    TERMS,
    Purpose,
    consent_history,
    current_choices,
    purpose_named,
    record_choice,
    request_deletion,
    standings,
)
from aisonar.web.archives import archive_download
from aisonar.web.cookie_consent import keep_cookie_choice
from aisonar.web.deps import Config, Engine, Services
from aisonar.web.inputs import DeletionAsk

router = console_router()

PRIVACY_PATH = "/console/privacy"
EXPORT_PATH = PRIVACY_PATH + "/export"
DELETION_PATH = PRIVACY_PATH + "/deletion"
# Where a person lands once their deletion request signed them out.
DELETION_ASKED_PATH = PRIVACY_PATH + "/deletion-requested"
# What the page says after a change, by the `done` of its address.
DONE = frozenset({"consent"})
# The page's forms, each with its own error.
_SECTIONS = ("export", "deletion")
# The consents' history shows the most recent entries.
_HISTORY_SHOWN = 20

# What each purpose (and each sign-up declaration) is, as the page names it.
PURPOSE_NAMES = {
    Purpose.ANALYTICS.value: N_("Page-view analytics"),
    TERMS: N_("The terms of service, accepted at sign-up"),
    AGE_CONFIRMED: N_("Being 18 or over, declared at sign-up"),
}
PURPOSE_TEXTS = {
    Purpose.ANALYTICS.value: N_(
        "Your visits to the console counted in the operator's daily totals of page views, "
        "which name nobody. The same choice as the cookie banner's."
    ),
}
SOURCE_NAMES = {"api": N_("your choice"), "signup": N_("sign-up")}


async def _privacy_page(
    member: MemberVisit,
    db: Engine,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    reason: str = "",
    done: str = "",
    retry_after: str | None = None,
) -> Response:
    user_id = member.principal.user_id
    async with db.connect() as conn:
        choices = await current_choices(conn, user_id)
        history = await consent_history(conn, user_id)
        policies = await standings(conn, user_id)
    context: dict[str, Any] = {
        "purposes": [
            (purpose, PURPOSE_NAMES.get(purpose, purpose), PURPOSE_TEXTS.get(purpose), granted)
            for purpose, granted in choices.items()
        ],
        "history": [
            (entry, PURPOSE_NAMES.get(entry.purpose, entry.purpose))
            for entry in history[:_HISTORY_SHOWN]
        ],
        "source_names": SOURCE_NAMES,
        "standings": policies,
        "errors": {**dict.fromkeys(_SECTIONS), **(errors or {})},
        "reason": reason,
        "done": done if done in DONE else "",
        "exports_per_hour": member.request.app.state.settings.exports_per_hour,
    }
    response = page(member, "privacy.html", context, status=status)
    if retry_after is not None:
        response.headers["retry-after"] = retry_after
    return response


@router.get(PRIVACY_PATH)
async def privacy_page(member: Member, db: Engine, done: str = "") -> Response:
    return await _privacy_page(member, db, done=done)


@router.post(EXPORT_PATH)
async def export_my_data(
    request: Request, member: Member, running: Services, settings: Config
) -> Response:
    """`GET /api/me/export`: the signed-in person's own archive, made now and sent as a
    download (the page stays); past the hourly allowance, the page says when to retry."""
    await checked_form(request, member)
    try:
        exported = await own_export(
            running.engine,
            running.limiter.store,
            settings.exports_per_hour,
            member.principal.user_id,
        )
        return await archive_download(running.engine, member.actor, exported)
    except AISonarError as error:
        return await _privacy_page(
            member,
            running.engine,
            status=error.status,
            errors={"export": error_text(error, member.language)},
            retry_after=error.retry_after,
        )


@router.post(PRIVACY_PATH + "/consents/{purpose}")
async def choose_consent(request: Request, member: Member, db: Engine, purpose: str) -> Response:
    """`PUT /api/me/consents/{purpose}`: `granted` is yes or no. Analytics goes through
    the cookie banner's code (the same record, and the browser's cookie set to match)."""
    form = await checked_form(request, member)
    chosen = purpose_named(purpose)
    answer = form.text("granted")
    if answer not in ("yes", "no"):
        raise InvalidInput(N_("answer yes or no"), param="granted")
    response = see_other(PRIVACY_PATH + "?done=consent#consents")
    if chosen is Purpose.ANALYTICS:
        await keep_cookie_choice(request, response, member.session, db, answer == "yes")
    else:
        async with db.begin() as conn:
            await record_choice(
                conn, member.principal.user_id, chosen, answer == "yes", actor=member.actor
            )
    return response


@router.post(DELETION_PATH)
async def ask_for_deletion(request: Request, member: Member, db: Engine) -> Response:
    """`POST /api/me/deletion-request`: confirmed with the password; the account is
    disabled at once (so this session ends too) and its keys revoked."""
    form = await checked_form(request, member)
    reason = form.text("reason")
    try:
        body = DeletionAsk(password=form.secret("password"), reason=reason or None)
        async with db.begin() as conn:
            await request_deletion(
                conn, member.principal.user_id, body.password, body.reason, actor=member.actor
            )
    except ValidationError as error:
        message = error_text(invalid(error), member.language)
        return await _privacy_page(
            member, db, status=400, errors={"deletion": message}, reason=reason
        )
    except AISonarError as error:
        message = error_text(error, member.language)
        return await _privacy_page(
            member, db, status=error.status, errors={"deletion": message}, reason=reason
        )
    response = see_other(DELETION_ASKED_PATH)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get(DELETION_ASKED_PATH)
async def deletion_asked(visitor: Visitor) -> Response:
    """What happens now, for the person just signed out by their request."""
    return page(visitor, "privacy_deletion_requested.html")
