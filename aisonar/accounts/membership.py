"""Changing people and organizations after they exist: a user's name, company, language,
role, email address (an operator's change), or whether they are disabled (which stops
their keys, tokens and sessions at once), and an organization's plan. Each change is
audited with its before and after; the person hears of a change to their profile."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.directory import get_org, get_user
from aisonar.accounts.email_change import change_email
from aisonar.accounts.models import Organization, Plan, User
from aisonar.accounts.sessions import end_other_sessions
from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import utcnow
from aisonar.errors import InvalidInput
from aisonar.i18n import N_, Language
from aisonar.notify.notices import PLAN_CHANGED, PROFILE_CHANGED, ROLE_CHANGED, record_notice
from aisonar.store.changes import KEY_ENTITY, record_change
from aisonar.store.roles import Role
from aisonar.store.tables import organizations, users

# A change to any of these is told to the person: which fields, not the values (their
# organization's webhooks receive the notice too). A language switch is audited but told
# to nobody: it is no security matter, and would bury the notices that are.
_PROFILE_FIELDS = ("name", "company")


async def update_user(
    conn: AsyncConnection,
    user_id: str,
    *,
    name: str | None = None,
    role: Role | None = None,
    disabled: bool | None = None,
    email: str | None = None,
    company: str | None = None,
    language: Language | None = None,
    keep_session: str | None = None,
    actor: Actor = SYSTEM,
) -> User:
    """Change the given fields (audited when any value differs; an empty company clears
    it; a new name or company is told to the person). Disabling a user ends
    their sessions; every server stops their keys within a second (cached identities are
    dropped). A new email address takes effect at once, unconfirmed (an operator's
    change, `email_change.change_email`): every session of the user but `keep_session`
    ends."""
    before = await get_user(conn, user_id)
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = name.strip()
    if role is not None:
        values["role"] = role.value
    if disabled is not None and disabled != before.disabled:
        values["disabled_at"] = utcnow() if disabled else None
    if company is not None:
        values["company"] = company.strip() or None
    if language is not None:
        values["language"] = language.value
    if not values and email is None:
        raise InvalidInput(
            N_(
                "nothing to change: give a name, a company, a language, a role, disabled, "
                "or an email"
            )
        )
    if email is not None:
        await change_email(conn, user_id, email, keep_session=keep_session, actor=actor)
    if values:
        await _update_profile(conn, before, values, actor)
    return await get_user(conn, user_id)


async def _update_profile(
    conn: AsyncConnection, before: User, values: dict[str, object], actor: Actor
) -> None:
    user_id = before.id
    await conn.execute(update(users).where(users.c.id == user_id).values(values))
    if values.get("disabled_at") is not None:
        await end_other_sessions(conn, user_id, keep=None)
    await record_change(conn, KEY_ENTITY, "*")
    after = await get_user(conn, user_id)
    fields = ("name", "company", "language", "role", "disabled")
    changes = audit.changed(
        {field: getattr(before, field) for field in fields},
        {field: getattr(after, field) for field in fields},
    )
    if changes:
        await audit.record(
            conn,
            actor,
            "user.update",
            object_kind="user",
            object_id=user_id,
            org_id=after.org_id,
            changes=changes,
        )
    profile = sorted(set(changes) & set(_PROFILE_FIELDS))
    if profile:
        await record_notice(conn, after.org_id, PROFILE_CHANGED, {"fields": profile}, user_id)
    if after.role != before.role:
        await record_notice(
            conn,
            after.org_id,
            ROLE_CHANGED,
            {"before": before.role, "after": after.role},
            user_id=user_id,
        )


async def set_org_plan(
    conn: AsyncConnection, org_id: str, plan: Plan, *, actor: Actor = SYSTEM
) -> Organization:
    """Move the organization to a plan; its markups and default limits follow at once."""
    before = await get_org(conn, org_id)
    await conn.execute(
        update(organizations).where(organizations.c.id == org_id).values(plan=plan.value)
    )
    await record_change(conn, KEY_ENTITY, "*")
    await audit.record(
        conn,
        actor,
        "org.update",
        object_kind="org",
        object_id=org_id,
        org_id=org_id,
        changes=audit.changed({"plan": before.plan}, {"plan": plan.value}),
    )
    if before.plan != plan.value:
        await record_notice(
            conn, org_id, PLAN_CHANGED, {"before": before.plan, "after": plan.value}
        )
    return await get_org(conn, org_id)
