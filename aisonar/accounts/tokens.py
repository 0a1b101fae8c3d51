"""Personal access tokens: how people (and their scripts) authenticate to the management
API. Shown once, stored as a SHA-256 hash, optionally expiring, revocable; a token acts
with its user's role, and stops working when the user is disabled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from pydantic.dataclasses import dataclass as checked
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.directory import get_user_by_email
from aisonar.accounts.keys import generate_key_secret, hash_key
from aisonar.accounts.listing import EVERY, Page, paged
from aisonar.accounts.principal import Principal
from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.errors import InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.store.roles import Role
from aisonar.store.tables import access_tokens, users

TOKEN_PREFIX = "sonar-pat-"


@dataclass(frozen=True)
class AccessToken:
    id: str
    user_id: str
    name: str
    display_prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@checked(frozen=True)
class NewToken:
    """A token to make, with the rules the API's body follows too."""

    name: Annotated[str, Field(max_length=200)] = ""
    expires_at: datetime | None = None


def _token(row: Any) -> AccessToken:
    return AccessToken(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        display_prefix=row.display_prefix,
        created_at=as_utc(row.created_at),
        expires_at=None if row.expires_at is None else as_utc(row.expires_at),
        revoked_at=None if row.revoked_at is None else as_utc(row.revoked_at),
    )


async def create_token(
    conn: AsyncConnection,
    email: str,
    *,
    name: str = "",
    expires_at: datetime | None = None,
    actor: Actor = SYSTEM,
) -> tuple[AccessToken, str]:
    """A new token for the user; returns it with its secret, never retrievable again."""
    user = await get_user_by_email(conn, email)
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        raise InvalidInput(N_("expiry must be in the future"), param="expires")
    secret = generate_key_secret(TOKEN_PREFIX)
    token_id = new_id("pat")
    await conn.execute(
        insert(access_tokens).values(
            id=token_id,
            user_id=user.id,
            name=name,
            token_hash=secret.key_hash,
            display_prefix=secret.display_prefix,
            created_at=utcnow(),
            expires_at=expires_at,
        )
    )
    row = (await conn.execute(select(access_tokens).where(access_tokens.c.id == token_id))).one()
    token = _token(row)
    await audit.record(
        conn,
        actor,
        "token.create",
        object_kind="token",
        object_id=token_id,
        org_id=user.org_id,
        changes=audit.created({"user_id": user.id, "name": name, "expires_at": token.expires_at}),
    )
    return token, secret.secret


async def list_tokens(conn: AsyncConnection, user_id: str, page: Page = EVERY) -> list[AccessToken]:
    """The user's tokens, revoked ones too, oldest first, from the page's start; a cursor
    that is not one of theirs is refused like an unknown one."""
    query = select(access_tokens).where(access_tokens.c.user_id == user_id)
    return [
        _token(row) for row in await conn.execute(await paged(conn, access_tokens, query, page))
    ]


async def get_token(conn: AsyncConnection, token_id: str, user_id: str) -> AccessToken:
    """One of the user's tokens (NotFound for anyone else's)."""
    mine = access_tokens.c.id == token_id, access_tokens.c.user_id == user_id
    row = (await conn.execute(select(access_tokens).where(*mine))).first()
    if row is None:
        raise NotFound(N_("no access token with id {token_id!r}"), token_id=token_id)
    return _token(row)


async def count_tokens(conn: AsyncConnection, user_id: str) -> int:
    query = select(func.count()).select_from(access_tokens)
    return int((await conn.execute(query.where(access_tokens.c.user_id == user_id))).scalar_one())


async def revoke_token(
    conn: AsyncConnection, token_id: str, user_id: str | None = None, *, actor: Actor = SYSTEM
) -> AccessToken:
    """Revoke a token; given a user, only one of theirs (NotFound for anyone else's)."""
    mine = access_tokens.c.id == token_id
    if user_id is not None:
        mine &= access_tokens.c.user_id == user_id
    revoked = await conn.execute(
        update(access_tokens)
        .where(mine, access_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    row = (
        await conn.execute(
            select(access_tokens, users.c.org_id)
            .join(users, users.c.id == access_tokens.c.user_id)
            .where(mine)
        )
    ).first()
    if row is None:
        raise NotFound(N_("no access token with id {token_id!r}"), token_id=token_id)
    token = _token(row)
    if revoked.rowcount:
        await audit.record(
            conn,
            actor,
            "token.revoke",
            object_kind="token",
            object_id=token_id,
            org_id=row.org_id,
            changes=audit.changed({}, {"revoked_at": token.revoked_at}),
        )
    return token


async def principal_for_token(conn: AsyncConnection, secret: str) -> Principal | None:
    """The active user behind a live token, or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    row = (
        await conn.execute(
            select(
                users.c.id,
                users.c.org_id,
                users.c.email,
                users.c.role,
                access_tokens.c.expires_at,
            )
            .join(users, users.c.id == access_tokens.c.user_id)
            .where(
                access_tokens.c.token_hash == hash_key(secret),
                access_tokens.c.revoked_at.is_(None),
                users.c.disabled_at.is_(None),
            )
        )
    ).first()
    if row is None or (row.expires_at is not None and as_utc(row.expires_at) <= utcnow()):
        return None
    return Principal(row.id, row.org_id, row.email, Role(row.role))
