"""Organizations, users and API keys: create, list, revoke, look up."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.keys import generate_key_secret
from aisonar.accounts.models import (
    DEFAULT_LOW_BALANCE_THRESHOLD,
    ApiKey,
    KeyIdentity,
    KeyScope,
    Organization,
    Plan,
    User,
)
from aisonar.accounts.networks import canonical_networks, parsed_networks
from aisonar.accounts.passwords import hash_password
from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.channels.model_names import WILDCARD
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.errors import AlreadyExists, InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.notify import notices
from aisonar.notify.notices import record_notice
from aisonar.store.changes import KEY_ENTITY, record_change
from aisonar.store.roles import Role
from aisonar.store.tables import api_keys, organizations, plans, users

MAX_EMAIL_LENGTH = 320
_LOCAL_PART = r'[^\s\x00-\x1f\x7f@<>()\[\],;:"\\]+'
_DOMAIN_LABEL = r'[^\s\x00-\x1f\x7f@<>()\[\],;:"\\.]+'
_EMAIL_ADDRESS = re.compile(rf"{_LOCAL_PART}@{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+")


def _optional_utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def org_from_row(row: Any) -> Organization:
    return Organization(
        id=row.id,
        name=row.name,
        plan=row.plan,
        created_at=as_utc(row.created_at),
        low_balance_threshold=row.low_balance_threshold,
        retention_days=row.retention_days,
        dimension_properties=tuple(row.dimension_properties or ()),
    )


def validate_model_list(models: Iterable[str]) -> list[str]:
    """An organization's (or key's) model list: names or patterns with one `*`, sorted."""
    found: set[str] = set()
    for model in models:
        name = model.strip()
        if not name:
            raise InvalidInput(N_("a model name must not be empty"), param="models")
        if name.count(WILDCARD) > 1:
            raise InvalidInput(
                N_("a model pattern has one `*`: {name!r}"), param="models", name=name
            )
        found.add(name)
    if not found:
        raise InvalidInput(N_("a model list needs at least one model"), param="models")
    return sorted(found)


async def create_org(
    conn: AsyncConnection,
    name: str,
    plan: str = Plan.FREE,
    *,
    models: list[str] | None = None,
    actor: Actor = SYSTEM,
) -> Organization:
    """`models` (names or `*` patterns) restricts every key of the organization; None
    allows every model."""
    name = name.strip()
    if not name:
        raise InvalidInput(N_("organization name must not be empty"), param="name")
    if plan not in set(Plan):
        raise InvalidInput(N_("unknown plan {plan!r}"), param="plan", plan=plan)
    allowed = None if models is None else validate_model_list(models)
    org = Organization(
        id=new_id("org"),
        name=name,
        plan=plan,
        created_at=utcnow(),
        low_balance_threshold=DEFAULT_LOW_BALANCE_THRESHOLD,
    )
    try:
        await conn.execute(insert(organizations).values(**vars(org), models=allowed))
    except IntegrityError as error:
        raise AlreadyExists(N_("organization {name!r} already exists"), name=name) from error
    await audit.record(
        conn,
        actor,
        "org.create",
        object_kind="org",
        object_id=org.id,
        org_id=org.id,
        changes=audit.created({"name": name, "plan": plan, "models": allowed}),
    )
    return org


async def list_orgs(conn: AsyncConnection) -> list[Organization]:
    rows = await conn.execute(select(organizations).order_by(organizations.c.created_at))
    return [org_from_row(row) for row in rows]


async def get_org_by_name(conn: AsyncConnection, name: str) -> Organization:
    row = (await conn.execute(select(organizations).where(organizations.c.name == name))).first()
    if row is None:
        raise NotFound(N_("no organization named {name!r}"), name=name)
    return org_from_row(row)


async def get_org(conn: AsyncConnection, org_id: str) -> Organization:
    row = (await conn.execute(select(organizations).where(organizations.c.id == org_id))).first()
    if row is None:
        raise NotFound(N_("no organization with id {org_id!r}"), org_id=org_id)
    return org_from_row(row)


async def org_models(conn: AsyncConnection, org_id: str) -> list[str] | None:
    """The organization's model list (None: every model)."""
    query = select(organizations.c.models).where(organizations.c.id == org_id)
    models = (await conn.execute(query)).scalar_one_or_none()
    return None if models is None else list(models)


async def set_org_models(
    conn: AsyncConnection, org_name: str, models: list[str] | None, *, actor: Actor = SYSTEM
) -> list[str] | None:
    """Restrict the organization's keys to `models` (names or `*` patterns), or lift the
    restriction with None; returns the stored list. Every server drops its cached key
    identities, so the change holds within a second."""
    allowed = None if models is None else validate_model_list(models)
    org = await get_org_by_name(conn, org_name)
    before = await org_models(conn, org.id)
    await conn.execute(
        update(organizations).where(organizations.c.id == org.id).values(models=allowed)
    )
    await audit.record(
        conn,
        actor,
        "org.update",
        object_kind="org",
        object_id=org.id,
        org_id=org.id,
        changes=audit.changed({"models": before}, {"models": allowed}),
    )
    # The organization's list travels with the cached key identities.
    await record_change(conn, KEY_ENTITY, "*")
    return allowed


def user_from_row(row: Any) -> User:
    return User(
        id=row.id,
        org_id=row.org_id,
        org_name=row.org_name,
        email=row.email,
        name=row.name,
        role=row.role,
        created_at=as_utc(row.created_at),
        disabled=row.disabled_at is not None,
        language=row.language,
        company=row.company,
        password_set=row.password_hash is not None,
    )


def user_query() -> Any:
    return select(users, organizations.c.name.label("org_name")).join(
        organizations, organizations.c.id == users.c.org_id
    )


def validate_email(email: str) -> str:
    """The address trimmed and in lower case, if it is one: a local part, one `@`, and a
    domain of two or more labels; nothing that could break out of a mail header."""
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL_ADDRESS.fullmatch(email):
        raise InvalidInput(N_("{email!r} is not an email address"), param="email", email=email)
    return email


async def create_user(
    conn: AsyncConnection,
    email: str,
    org_name: str,
    *,
    name: str = "",
    role: str = Role.USER,
    password: str | None = None,
    company: str | None = None,
    language: str | None = None,
    actor: Actor = SYSTEM,
) -> User:
    """A new member of the organization; `language` (the column's default, English,
    when None) is the one notices and the console speak to them in."""
    email = validate_email(email)
    if role not in set(Role):
        raise InvalidInput(N_("unknown role {role!r}"), param="role", role=role)
    org = await get_org_by_name(conn, org_name)
    user_id = new_id("usr")
    try:
        await conn.execute(
            insert(users).values(
                id=user_id,
                org_id=org.id,
                email=email,
                name=name,
                role=role,
                password_hash=None
                if password is None
                else hash_password(password, user_inputs=[email, name, org_name]),
                created_at=utcnow(),
                company=company,
                **({} if language is None else {"language": language}),
            )
        )
    except IntegrityError as error:
        raise AlreadyExists(N_("user {email!r} already exists"), email=email) from error
    await audit.record(
        conn,
        actor,
        "user.create",
        object_kind="user",
        object_id=user_id,
        org_id=org.id,
        changes=audit.created(
            {
                "email": email,
                "name": name,
                "role": role,
                "password_set": password is not None,
                "company": company,
            }
        ),
    )
    return await get_user_by_email(conn, email)


async def get_user_by_email(conn: AsyncConnection, email: str) -> User:
    email = email.strip().lower()
    row = (await conn.execute(user_query().where(users.c.email == email))).first()
    if row is None:
        raise NotFound(N_("no user with email {email!r}"), email=email)
    return user_from_row(row)


async def get_user(conn: AsyncConnection, user_id: str) -> User:
    row = (await conn.execute(user_query().where(users.c.id == user_id))).first()
    if row is None:
        raise NotFound(N_("no user with id {user_id!r}"), user_id=user_id)
    return user_from_row(row)


async def list_users(conn: AsyncConnection, org_name: str | None = None) -> list[User]:
    query = user_query().order_by(users.c.created_at)
    if org_name is not None:
        query = query.where(users.c.org_id == (await get_org_by_name(conn, org_name)).id)
    return [user_from_row(row) for row in await conn.execute(query)]


def key_from_row(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        org_id=row.org_id,
        name=row.name,
        display_prefix=row.display_prefix,
        models=tuple(row.models) if row.models is not None else None,
        created_at=as_utc(row.created_at),
        expires_at=_optional_utc(row.expires_at),
        revoked_at=_optional_utc(row.revoked_at),
        allowed_ips=None if row.allowed_ips is None else tuple(row.allowed_ips),
        previous_valid_until=_optional_utc(row.previous_valid_until),
        scope=KeyScope(row.scope),
    )


async def create_key(
    conn: AsyncConnection,
    email: str,
    *,
    name: str = "",
    models: list[str] | None = None,
    expires_at: datetime | None = None,
    allowed_ips: list[str] | None = None,
    scope: KeyScope = KeyScope.ALL,
    actor: Actor = SYSTEM,
) -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which is never retrievable again.
    `allowed_ips` (CIDR blocks) restricts where it may be used from; an `ingest` key can
    only report usage."""
    user = await get_user_by_email(conn, email)
    networks = None if allowed_ips is None else canonical_networks(allowed_ips)
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        raise InvalidInput(N_("expiry must be in the future"), param="expires")
    secret = generate_key_secret()
    key_id = new_id("key")
    await conn.execute(
        insert(api_keys).values(
            id=key_id,
            user_id=user.id,
            org_id=user.org_id,
            name=name,
            key_hash=secret.key_hash,
            display_prefix=secret.display_prefix,
            models=sorted(set(models)) if models else None,
            created_at=utcnow(),
            expires_at=expires_at,
            allowed_ips=networks,
            scope=scope,
        )
    )
    await record_change(conn, KEY_ENTITY, key_id)
    row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).one()
    key = key_from_row(row)
    await audit.record(
        conn,
        actor,
        "key.create",
        object_kind="key",
        object_id=key_id,
        org_id=user.org_id,
        changes=audit.created(
            {
                "user_id": user.id,
                "name": name,
                "models": row.models,
                "expires_at": key.expires_at,
                "allowed_ips": networks,
                "scope": scope,
            }
        ),
    )
    await record_notice(
        conn,
        user.org_id,
        notices.KEY_CREATED,
        {"key_id": key_id, "name": name, "display_prefix": key.display_prefix},
        user_id=user.id,
    )
    return key, secret.secret


async def list_keys(conn: AsyncConnection, email: str) -> list[ApiKey]:
    user = await get_user_by_email(conn, email)
    rows = await conn.execute(
        select(api_keys).where(api_keys.c.user_id == user.id).order_by(api_keys.c.created_at)
    )
    return [key_from_row(row) for row in rows]


async def get_key(conn: AsyncConnection, key_id: str) -> ApiKey:
    row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
    if row is None:
        raise NotFound(N_("no key with id {key_id!r}"), key_id=key_id)
    return key_from_row(row)


async def revoke_key(conn: AsyncConnection, key_id: str, *, actor: Actor = SYSTEM) -> ApiKey:
    result = await conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
    if row is None:
        raise NotFound(N_("no key with id {key_id!r}"), key_id=key_id)
    if result.rowcount == 0:
        raise InvalidInput(N_("key {key_id!r} is already revoked"), param="key_id", key_id=key_id)
    await record_change(conn, KEY_ENTITY, key_id)
    key = key_from_row(row)
    await audit.record(
        conn,
        actor,
        "key.revoke",
        object_kind="key",
        object_id=key_id,
        org_id=key.org_id,
        changes=audit.changed({}, {"revoked_at": key.revoked_at}),
    )
    await record_notice(
        conn,
        key.org_id,
        notices.KEY_REVOKED,
        {"key_id": key_id, "name": key.name, "display_prefix": key.display_prefix},
        user_id=key.user_id,
    )
    return key


async def find_key_identity(conn: AsyncConnection, key_hash: str) -> KeyIdentity | None:
    """The caller behind a key's secret, or behind its previous one after a rotation
    (then `superseded_at` says until when it works)."""
    row = (
        await conn.execute(
            select(
                api_keys.c.id,
                api_keys.c.user_id,
                api_keys.c.org_id,
                api_keys.c.models,
                api_keys.c.expires_at,
                api_keys.c.revoked_at,
                api_keys.c.key_hash,
                api_keys.c.previous_valid_until,
                api_keys.c.allowed_ips,
                api_keys.c.scope,
                users.c.disabled_at,
                plans.c.markup_ppm.label("plan_markup_ppm"),
                organizations.c.markup_ppm.label("org_markup_ppm"),
                organizations.c.models.label("org_models"),
            )
            .join(users, users.c.id == api_keys.c.user_id)
            .join(organizations, organizations.c.id == api_keys.c.org_id)
            .join(plans, plans.c.name == organizations.c.plan)
            .where((api_keys.c.key_hash == key_hash) | (api_keys.c.previous_key_hash == key_hash))
        )
    ).first()
    if row is None:
        return None
    return KeyIdentity(
        key_id=row.id,
        user_id=row.user_id,
        org_id=row.org_id,
        models=frozenset(row.models) if row.models is not None else None,
        expires_at=_optional_utc(row.expires_at),
        active=row.revoked_at is None and row.disabled_at is None,
        plan_markup_ppm=row.plan_markup_ppm,
        org_markup_ppm=row.org_markup_ppm,
        org_models=frozenset(row.org_models) if row.org_models is not None else None,
        networks=None if row.allowed_ips is None else parsed_networks(row.allowed_ips),
        superseded_at=None if row.key_hash == key_hash else _optional_utc(row.previous_valid_until),
        scope=KeyScope(row.scope),
    )
