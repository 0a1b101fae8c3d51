"""`/api/me`: what every signed-in person manages for themselves: their profile, API
keys, access tokens, notification settings and their organization's balance."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from aisonar.accounts import services as accounts
from aisonar.accounts.services import update_user
from aisonar.api import paging
from aisonar.api.keys import create_key_for, revoke_key_of
from aisonar.api.paging import After, Limit
from aisonar.api.schemas import (
    KeyCreate,
    KeyCreated,
    KeyOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserOut,
)
from aisonar.errors import InvalidInput
from aisonar.i18n import N_, Language
from aisonar.notify.services import (
    SECURITY_KINDS,
    Notice,
    Preferences,
    inbox,
    mark_read,
    preferences,
    reading,
    set_preferences,
)
from aisonar.notify.services import Channel as NoticeChannel
from aisonar.web.balances import BalanceOut, balance_of
from aisonar.web.deps import Acting, Caller, Engine, RecentlyAuthenticated, Services
from aisonar.web.ids import RowId
from aisonar.web.inputs import ProfileChange

router = APIRouter(prefix="/api/me", tags=["me"])


@router.get("")
async def my_profile(caller: Caller, db: Engine) -> UserOut:
    async with db.connect() as conn:
        return UserOut.of(await accounts.get_user(conn, caller.user_id))


@router.patch("")
async def change_my_profile(
    caller: Caller, actor: Acting, db: Engine, body: ProfileChange
) -> UserOut:
    """Correct your name, company or language (any of them, at least one; the language
    is also in `/api/me/notification-settings`). Audited; you get a `profile_changed`
    notice naming what changed."""
    if not body.model_fields_set:
        raise InvalidInput(N_("nothing to change: give a name, a company or a language"))
    async with db.begin() as conn:
        changed = await update_user(
            conn,
            caller.user_id,
            name=body.name,
            company=body.company,
            language=body.language,
            actor=actor,
        )
    return UserOut.of(changed)


@router.get("/keys")
async def my_keys(
    caller: Caller, db: Engine, response: Response, after: After = None, limit: Limit = None
) -> list[KeyOut]:
    """Their keys, revoked ones too, oldest first; paged like `/api/users/{id}/keys`."""
    async with db.connect() as conn:
        page = paging.page(after, limit)
        found = await accounts.keys_page(conn, page, user_id=caller.user_id)
    shown = paging.cut(found, limit, response, "/api/me/keys", lambda key: key.id)
    return [KeyOut.of(key) for key in shown]


@router.post("/keys", status_code=201)
async def create_my_key(caller: Caller, actor: Acting, db: Engine, body: KeyCreate) -> KeyCreated:
    async with db.begin() as conn:
        return await create_key_for(conn, actor, caller.email, body)


@router.delete("/keys/{key_id}")
async def revoke_my_key(caller: Caller, actor: Acting, db: Engine, key_id: str) -> KeyOut:
    async with db.begin() as conn:
        return await revoke_key_of(conn, caller, actor, key_id, own_only=True)


@router.get("/tokens")
async def my_tokens(
    caller: Caller, db: Engine, response: Response, after: After = None, limit: Limit = None
) -> list[TokenOut]:
    """Their access tokens, revoked ones too, oldest first; paged like `/api/me/keys`."""
    async with db.connect() as conn:
        found = await accounts.list_tokens(conn, caller.user_id, paging.page(after, limit))
    shown = paging.cut(found, limit, response, "/api/me/tokens", lambda token: token.id)
    return [TokenOut.of(token) for token in shown]


@router.post("/tokens", status_code=201)
async def create_my_token(
    caller: RecentlyAuthenticated, actor: Acting, db: Engine, body: TokenCreate
) -> TokenCreated:
    """A personal access token for the management API, its secret shown once. A session
    must have proved its password recently (`POST /api/session/reauthenticate`)."""
    async with db.begin() as conn:
        token, secret = await accounts.create_token(
            conn, caller.email, name=body.name, expires_at=body.expires_at, actor=actor
        )
    return TokenCreated(**TokenOut.of(token).model_dump(), secret=secret)


@router.delete("/tokens/{token_id}")
async def revoke_my_token(caller: Caller, actor: Acting, db: Engine, token_id: str) -> TokenOut:
    async with db.begin() as conn:
        revoked = await accounts.revoke_token(conn, token_id, caller.user_id, actor=actor)
        return TokenOut.of(revoked)


@router.get("/balance")
async def my_balance(caller: Caller, running: Services) -> BalanceOut:
    return await balance_of(running.engine, running.billing.store, caller.org_id)


class NoticeOut(BaseModel):
    id: int
    kind: str
    # Whose it is: the user's own, or (null) their organization's, for its admins.
    user_id: str | None
    data: dict[str, Any]
    # Security notices always reach the person, whatever their preferences.
    security: bool
    created_at: datetime

    @classmethod
    def of(cls, notice: Notice) -> Self:
        fields = {name: getattr(notice, name) for name in cls.model_fields if name != "security"}
        return cls(**fields, security=notice.kind in SECURITY_KINDS)


class InboxNoticeOut(NoticeOut):
    # Whether the caller marked it read (`POST /api/me/notices/read`).
    read: bool


class NoticesRead(BaseModel):
    # Notices with a higher id are unread (0: none was marked read).
    read_through: int
    unread: int


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    through_id: Annotated[RowId, Field(description="Every notice up to this id is read.")]


@router.get("/notices")
async def my_notices(
    caller: Caller,
    db: Engine,
    request: Request,
    response: Response,
    before_id: Annotated[RowId | None, Query(description="Page back from this notice.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[InboxNoticeOut]:
    """The in-app inbox, newest first: the caller's notices, and their organization's
    when they administer it; each says whether it was marked read. A full page's `Link`
    header (`rel="next"`) gives the older notices."""
    async with db.connect() as conn:
        read_through = (await reading(conn, caller)).read_through
        found = await inbox(
            conn,
            user_id=caller.user_id,
            org_id=caller.org_id,
            org_admin=caller.administers(caller.org_id),
            before_id=before_id,
            limit=limit,
        )
    return [
        InboxNoticeOut(**NoticeOut.of(notice).model_dump(), read=notice.id <= read_through)
        for notice in paging.back(found, limit, request, response, lambda notice: notice.id)
    ]


@router.get("/notices/unread")
async def my_unread_notices(caller: Caller, db: Engine) -> NoticesRead:
    """How many notices of the inbox are unread."""
    async with db.connect() as conn:
        found = await reading(conn, caller)
    return NoticesRead(read_through=found.read_through, unread=found.unread)


@router.post("/notices/read")
async def mark_my_notices_read(caller: Caller, db: Engine, body: MarkRead) -> NoticesRead:
    """Mark every notice up to `through_id` read (the newest one shown: all of them). A
    lower id than an earlier mark changes nothing."""
    async with db.begin() as conn:
        found = await mark_read(conn, caller, body.through_id)
    return NoticesRead(read_through=found.read_through, unread=found.unread)


class NotificationSettings(BaseModel):
    language: Language
    # notice kind -> channel (email, webhook, inbox) -> on
    kinds: dict[str, dict[NoticeChannel, bool]]
    # Those that always go out, whatever is chosen here.
    security_kinds: list[str]


class NotificationSettingsChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: Language | None = None
    kinds: dict[str, dict[NoticeChannel, bool]] | None = None


def _settings_out(found: Preferences) -> NotificationSettings:
    return NotificationSettings(
        language=found.language, kinds=found.kinds, security_kinds=sorted(SECURITY_KINDS)
    )


@router.get("/notification-settings")
async def my_notification_settings(caller: Caller, db: Engine) -> NotificationSettings:
    async with db.connect() as conn:
        return _settings_out(await preferences(conn, caller.user_id))


@router.patch("/notification-settings")
async def change_my_notification_settings(
    caller: Caller, actor: Acting, db: Engine, body: NotificationSettingsChange
) -> NotificationSettings:
    """Choose the language and which notices reach you by which channel (security
    notices cannot be turned off)."""
    async with db.begin() as conn:
        found = await set_preferences(
            conn, caller.user_id, language=body.language, kinds=body.kinds, actor=actor
        )
    return _settings_out(found)
