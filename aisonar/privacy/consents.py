"""People's consents: an append-only history of each choice, with when it was made, how
(`api`, `signup`) and under which version of the privacy policy. A person's current
choice for a purpose is their latest entry; with none, the purpose's default, which is
never consent (opt-in). Withdrawing is one more entry, granted false. Sign-up also
records what the person declared there: that they are 18 or over, and that they accept
the current terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import as_utc, utcnow
from aisonar.errors import InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.privacy.acknowledgements import record_acknowledgement
from aisonar.privacy.policies import Policy, PolicyKind, current_policy
from aisonar.store.tables import consents, users


class Purpose(StrEnum):
    """What a person may consent to, and withdraw from, at any time."""

    # Their use of the console counted in the operator's aggregated site analytics.
    ANALYTICS = "analytics"


# Declared once, at sign-up: recorded as granted, not a choice to change later.
TERMS = "terms"
AGE_CONFIRMED = "age_confirmed"


class Source(StrEnum):
    API = "api"
    SIGNUP = "signup"


_HISTORY_LIMIT = 1000


@dataclass(frozen=True)
class Consent:
    id: int
    purpose: str
    granted: bool
    # The policy in force when it was recorded; None when none was published.
    policy_id: str | None
    recorded_at: datetime
    source: str


def _consent(row: Any) -> Consent:
    return Consent(
        row.id, row.purpose, row.granted, row.policy_id, as_utc(row.recorded_at), row.source
    )


def purpose_named(value: str) -> Purpose:
    """The purpose named so; an unknown one does not exist."""
    try:
        return Purpose(value)
    except ValueError:
        purposes = ", ".join(purpose.value for purpose in Purpose)
        raise NotFound(
            N_("no consent purpose {value!r}; the purposes are {purposes}"),
            value=value,
            purposes=purposes,
        ) from None


async def _latest(conn: AsyncConnection, user_id: str, purpose: str) -> Any:
    """The person's latest entry for the purpose, or None."""
    return (
        await conn.execute(
            select(consents.c.granted, consents.c.policy_id)
            .where(consents.c.user_id == user_id, consents.c.purpose == purpose)
            .order_by(consents.c.id.desc())
            .limit(1)
        )
    ).first()


async def has_consented(conn: AsyncConnection, user_id: str, purpose: str) -> bool:
    """Whether the person's latest choice for the purpose grants it (no choice: no)."""
    latest = await _latest(conn, user_id, purpose)
    return latest is not None and bool(latest.granted)


async def current_choices(conn: AsyncConnection, user_id: str) -> dict[str, bool]:
    """The person's current choice for each purpose."""
    return {purpose.value: await has_consented(conn, user_id, purpose) for purpose in Purpose}


async def consent_history(conn: AsyncConnection, user_id: str) -> list[Consent]:
    """Every entry of the person's, sign-up declarations included, newest first."""
    rows = await conn.execute(
        select(consents)
        .where(consents.c.user_id == user_id)
        .order_by(consents.c.id.desc())
        .limit(_HISTORY_LIMIT)
    )
    return [_consent(row) for row in rows]


async def _append(
    conn: AsyncConnection,
    user_id: str,
    purpose: str,
    granted: bool,
    policy: Policy | None,
    source: Source,
) -> None:
    await conn.execute(
        insert(consents).values(
            user_id=user_id,
            purpose=purpose,
            granted=granted,
            policy_id=None if policy is None else policy.id,
            recorded_at=utcnow(),
            source=source.value,
        )
    )


async def record_choice(
    conn: AsyncConnection,
    user_id: str,
    purpose: Purpose,
    granted: bool,
    *,
    actor: Actor = SYSTEM,
) -> None:
    """Append the person's choice, made under the current privacy policy. Every choice
    is kept, the same one again too (renewed under a newer policy); a change of the
    current choice is audited, with the policies it was made under before and now."""
    latest = await _latest(conn, user_id, purpose.value)
    before = latest is not None and bool(latest.granted)
    privacy = await current_policy(conn, PolicyKind.PRIVACY)
    await _append(conn, user_id, purpose.value, granted, privacy, Source.API)
    if before == granted:
        return
    org_id = (await conn.execute(select(users.c.org_id).where(users.c.id == user_id))).scalar_one()
    await audit.record(
        conn,
        actor,
        "consent.update",
        object_kind="user",
        object_id=user_id,
        org_id=org_id,
        changes=audit.changed(
            {purpose.value: before, "policy_id": None if latest is None else latest.policy_id},
            {purpose.value: granted, "policy_id": None if privacy is None else privacy.id},
        ),
    )


async def terms_to_accept(conn: AsyncConnection, accepted_version: int | None) -> Policy | None:
    """The current terms, which someone signing up must accept by their version; None
    when none are published (then there is nothing to accept)."""
    terms = await current_policy(conn, PolicyKind.TERMS)
    if terms is None:
        if accepted_version is not None:
            raise InvalidInput(
                N_("no terms of service are published: leave accepted_terms_version out"),
                param="accepted_terms_version",
            )
        return None
    if accepted_version != terms.version:
        given = "none" if accepted_version is None else f"version {accepted_version}"
        raise InvalidInput(
            N_(
                "accept the current terms of service, version {version} (GET "
                "/api/policies/terms), to sign up; {given} was accepted"
            ),
            param="accepted_terms_version",
            version=terms.version,
            given=given,
        )
    return terms


async def record_sign_up(
    conn: AsyncConnection, user_id: str, terms: Policy | None, actor: Actor
) -> None:
    """What the person declared at sign-up, in its transaction: they are 18 or over,
    and (when there are terms) they accept the current terms, which counts as having
    acknowledged them."""
    await _append(conn, user_id, AGE_CONFIRMED, True, terms, Source.SIGNUP)
    if terms is not None:
        await _append(conn, user_id, TERMS, True, terms, Source.SIGNUP)
        await record_acknowledgement(conn, user_id, terms, actor)
