"""The person's notices: the in-app inbox (`GET /api/me/notices`: their own notices and,
for an organization's admins, the organization's; newest first, a page at a time; each
shown as its email reads), and which notices reach them by which channel (`/api/me/
notification-settings`; security notices always go out)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Query, Request, Response
from jinja2 import TemplateError

from aisonar.console.csrf import checked_form
from aisonar.console.navigation import INBOX_PATH, N_
from aisonar.console.render import page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import InvalidInput
from aisonar.notify.services import (
    KINDS,
    SECURITY_KINDS,
    Channel,
    Notice,
    inbox,
    mark_read,
    preferences,
    reading,
    render_notice,
    set_preferences,
)
from aisonar.web.deps import Config, Engine
from aisonar.web.ids import RowId, written_id

log = logging.getLogger(__name__)

router = console_router()

NOTICES_PATH = INBOX_PATH
SETTINGS_PATH = NOTICES_PATH + "/settings"
PAGE_SIZE = 25

# What each kind of notice is about, as the settings name it.
KIND_NAMES = {
    "key_created": N_("An API key was created"),
    "key_revoked": N_("An API key was revoked"),
    "key_rotated": N_("An API key was rotated"),
    "key_expiring": N_("An API key expires soon"),
    "password_changed": N_("Your password was changed"),
    "email_changed": N_("Your email address was changed"),
    "role_changed": N_("Your role was changed"),
    "sign_in_from_new_address": N_("A sign-in from a new address"),
    "abuse_finding": N_("A key looks shared or attacked"),
    "deletion_requested": N_("Your account deletion was requested"),
    "deletion_rejected": N_("Your account deletion was refused"),
    "policy_changed": N_("The privacy policy or terms changed"),
    "profile_changed": N_("Your name or company was changed"),
    "balance_low": N_("The balance is low"),
    "balance_exhausted": N_("The balance is used up"),
    "recharge_received": N_("A recharge arrived"),
    "plan_changed": N_("The plan was changed"),
    "alert_firing": N_("An alert fires"),
    "alert_resolved": N_("An alert is resolved"),
    "support_reply": N_("An answer to your support request"),
}
CHANNEL_NAMES = {
    Channel.EMAIL: N_("Email"),
    Channel.WEBHOOK: N_("Your organization's webhooks"),
    Channel.INBOX: N_("Inbox"),
}


@dataclass(frozen=True)
class ShownNotice:
    id: int
    kind: str
    subject: str
    text: str
    security: bool
    # The organization's, not the person's own (its admins see those).
    organization: bool
    created_at: datetime
    unread: bool


def _shown(member: MemberVisit, notice: Notice, currency: str, read_through: int) -> ShownNotice:
    """The notice as its email reads, in the person's language."""
    person = member.person
    try:
        rendered = render_notice(
            notice,
            language=member.language,
            recipient_name=person.name,
            org_name=person.org_name,
            currency=currency,
        )
        subject, text = rendered.subject, rendered.text
    except (TemplateError, KeyError, TypeError, ValueError):
        # A notice stored before its template took today's shape: its kind at least.
        log.warning("notice %s (%s) could not be rendered", notice.id, notice.kind, exc_info=True)
        subject, text = KIND_NAMES.get(notice.kind, notice.kind), ""
    return ShownNotice(
        notice.id,
        notice.kind,
        subject,
        text,
        notice.kind in SECURITY_KINDS,
        notice.user_id is None,
        notice.created_at,
        notice.id > read_through,
    )


@router.get(NOTICES_PATH)
async def notices_page(
    member: Member,
    db: Engine,
    settings: Config,
    before: Annotated[RowId | None, Query()] = None,
) -> Response:
    person = member.principal
    async with db.connect() as conn:
        read = await reading(conn, person)
        found = await inbox(
            conn,
            user_id=person.user_id,
            org_id=person.org_id,
            org_admin=person.administers(person.org_id),
            before_id=before,
            limit=PAGE_SIZE + 1,
        )
    shown = [
        _shown(member, notice, settings.currency, read.read_through) for notice in found[:PAGE_SIZE]
    ]
    context = {
        "notices": shown,
        "unread": read.unread,
        # Marking read from the first page covers every notice shown there and before.
        "read_through": shown[0].id if shown and before is None else None,
        "older": f"{NOTICES_PATH}?before={shown[-1].id}" if len(found) > PAGE_SIZE else None,
        "newest": NOTICES_PATH if before is not None else None,
    }
    return page(member, "notices.html", context)


@router.post(NOTICES_PATH + "/read")
async def mark_notices_read(request: Request, member: Member, db: Engine) -> Response:
    """`POST /api/me/notices/read`: every notice up to the one given is read."""
    form = await checked_form(request, member)
    through_id = written_id(form.text("through_id"))
    if through_id is None:
        raise InvalidInput(N_("through_id is a notice id"), param="through_id")
    async with db.begin() as conn:
        await mark_read(conn, member.principal, through_id)
    return see_other(NOTICES_PATH)


@router.get(SETTINGS_PATH)
async def settings_page(member: Member, db: Engine, saved: bool = False) -> Response:
    async with db.connect() as conn:
        found = await preferences(conn, member.principal.user_id)
    context = {
        "kinds": [(kind, KIND_NAMES.get(kind, kind), found.kinds[kind]) for kind in KINDS],
        "channels": list(Channel),
        "channel_names": CHANNEL_NAMES,
        "security_kinds": SECURITY_KINDS,
        "saved": saved,
    }
    return page(member, "notices_settings.html", context)


@router.post(SETTINGS_PATH)
async def change_settings(request: Request, member: Member, db: Engine) -> Response:
    """`PATCH /api/me/notification-settings` with every kind that can be turned off: a
    box left unticked is a channel off. Audited there."""
    form = await checked_form(request, member)
    kinds = {
        kind: {channel: form.checked(f"{kind}.{channel.value}") for channel in Channel}
        for kind in KINDS
        if kind not in SECURITY_KINDS
    }
    async with db.begin() as conn:
        await set_preferences(conn, member.principal.user_id, kinds=kinds, actor=member.actor)
    return see_other(SETTINGS_PATH + "?saved=true")
