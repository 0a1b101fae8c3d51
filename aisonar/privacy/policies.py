"""The operator's privacy policy and terms as versioned documents. Each publication is
the next version of its kind (1, 2, ...), and the highest is the current one, shown to
anyone with its date as "last updated". A material change (the default) is announced to
every active person with a `policy_changed` notice and asks them to acknowledge it again
(`acknowledgements.py`); a minor one (a typo, a broken link) is published quietly."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.errors import AlreadyExists, InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.notify.notices import POLICY_CHANGED, record_notices
from aisonar.store.tables import policies, users


class PolicyKind(StrEnum):
    PRIVACY = "privacy"
    TERMS = "terms"


DEFAULT_TITLES = {PolicyKind.PRIVACY: "Privacy policy", PolicyKind.TERMS: "Terms of service"}
MAX_BODY_CHARS = 200_000
MAX_TITLE_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# People given a notice per transaction: each commits on its own, so announcing to a
# large installation never holds its locks for long.
ANNOUNCE_BATCH = 500
_LIST_LIMIT = 1000
# How often each server looks for announcements left half done.
RESUME_INTERVAL_S = 300.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    id: str
    kind: str
    version: int
    title: str
    # Markdown.
    body: str
    material: bool
    published_at: datetime
    published_by: str
    # SHA-256 of the body, hex.
    digest: str


def _policy(row: Any) -> Policy:
    return Policy(
        id=row.id,
        kind=row.kind,
        version=row.version,
        title=row.title,
        body=row.body,
        material=row.material,
        published_at=as_utc(row.published_at),
        published_by=row.published_by,
        digest=row.digest,
    )


def policy_kind(value: str) -> PolicyKind:
    """The kind named so; an unknown one is a document that does not exist."""
    try:
        return PolicyKind(value)
    except ValueError:
        kinds = ", ".join(kind.value for kind in PolicyKind)
        raise NotFound(
            N_("no policy of kind {value!r}; the kinds are {kinds}"), value=value, kinds=kinds
        ) from None


def _title(kind: PolicyKind, title: str | None) -> str:
    title = DEFAULT_TITLES[kind] if title is None else title.strip()
    if not title or len(title) > MAX_TITLE_CHARS or _CONTROL.search(title):
        raise InvalidInput(
            N_("a title is 1 to {max_title_chars} characters on one line"),
            param="title",
            max_title_chars=MAX_TITLE_CHARS,
        )
    return title


def _body(body: str) -> str:
    if not body.strip():
        raise InvalidInput(N_("the policy's text is empty"), param="body")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput(
            N_("the policy's text is over {max_body_chars} characters"),
            param="body",
            max_body_chars=MAX_BODY_CHARS,
        )
    return body


async def current_policy(conn: AsyncConnection, kind: PolicyKind) -> Policy | None:
    row = (
        await conn.execute(
            select(policies)
            .where(policies.c.kind == kind.value)
            .order_by(policies.c.version.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else _policy(row)


async def current_policies(conn: AsyncConnection) -> list[Policy]:
    """The current version of each kind that has one."""
    found = [await current_policy(conn, kind) for kind in PolicyKind]
    return [policy for policy in found if policy is not None]


async def list_policies(conn: AsyncConnection, kind: PolicyKind | None = None) -> list[Policy]:
    """Every version, newest first."""
    query = (
        select(policies)
        .order_by(policies.c.published_at.desc(), policies.c.version.desc())
        .limit(_LIST_LIMIT)
    )
    if kind is not None:
        query = query.where(policies.c.kind == kind.value)
    return [_policy(row) for row in await conn.execute(query)]


async def get_policy(conn: AsyncConnection, policy_id: str) -> Policy:
    row = (await conn.execute(select(policies).where(policies.c.id == policy_id))).first()
    if row is None:
        raise NotFound(N_("no policy with id {policy_id!r}"), policy_id=policy_id)
    return _policy(row)


async def publish_policy(
    conn: AsyncConnection,
    kind: PolicyKind,
    body: str,
    *,
    title: str | None = None,
    material: bool = True,
    actor: Actor = SYSTEM,
) -> Policy:
    """Record the next version of the kind (audited). The same text and title as the
    current version is refused: there would be nothing for anyone to read again.
    Announce a material one afterwards, once committed (`announce`)."""
    title, body = _title(kind, title), _body(body)
    digest = hashlib.sha256(body.encode()).hexdigest()
    current = await current_policy(conn, kind)
    if current is not None and (current.digest, current.title) == (digest, title):
        raise AlreadyExists(
            N_("version {version} of the {value} policy already has this title and text"),
            version=current.version,
            value=kind.value,
        )
    policy = Policy(
        id=new_id("pol"),
        kind=kind.value,
        version=1 if current is None else current.version + 1,
        title=title,
        body=body,
        material=material,
        published_at=utcnow(),
        published_by=actor.label,
        digest=digest,
    )
    try:
        await conn.execute(insert(policies).values(vars(policy)))
    except IntegrityError as error:
        raise AlreadyExists(
            N_(
                "version {version} of the {value} policy was published at the "
                "same time; publish again"
            ),
            version=policy.version,
            value=kind.value,
        ) from error
    fields = {"kind", "version", "title", "material", "digest"}
    await audit.record(
        conn,
        actor,
        "policy.publish",
        object_kind="policy",
        object_id=policy.id,
        changes=audit.created({name: getattr(policy, name) for name in fields}),
    )
    return policy


async def announce(engine: AsyncEngine, policy: Policy, *, batch: int = ANNOUNCE_BATCH) -> int:
    """Record a `policy_changed` notice for every person whose account is active, `batch`
    people per transaction; returns how many this call told. (One per person, not one per
    organization: an organization's notice reaches only its admins.) Each batch first
    moves the policy's `announced_through` on from where it was, conditionally, so a
    batch is told once however many servers announce, and an announcement a server left
    half done is taken up where it stopped (`announce_pending`)."""
    data = {
        "policy_id": policy.id,
        "kind": policy.kind,
        "version": policy.version,
        "title": policy.title,
    }
    told = 0
    while True:
        async with engine.begin() as conn:
            progress = (
                await conn.execute(
                    select(policies.c.announced_through, policies.c.announced_at).where(
                        policies.c.id == policy.id
                    )
                )
            ).one()
            if progress.announced_at is not None:
                return told
            people = [
                (row.org_id, row.id)
                for row in await conn.execute(
                    select(users.c.org_id, users.c.id)
                    .where(
                        users.c.disabled_at.is_(None),
                        users.c.id > (progress.announced_through or ""),
                    )
                    .order_by(users.c.id)
                    .limit(batch)
                )
            ]
            moved = await conn.execute(
                update(policies)
                .where(
                    policies.c.id == policy.id,
                    policies.c.announced_through.is_not_distinct_from(progress.announced_through),
                    policies.c.announced_at.is_(None),
                )
                .values(
                    announced_through=people[-1][1] if people else progress.announced_through,
                    announced_at=None if people else utcnow(),
                )
            )
            if moved.rowcount != 1:
                # Another server moved it first: read where it is now.
                continue
            if not people:
                return told
            await record_notices(conn, POLICY_CHANGED, data, people)
        told += len(people)


async def announce_pending(engine: AsyncEngine) -> int:
    """Finish the announcements of material versions not yet told to everyone (a server
    stopped in the middle); returns how many people were told."""
    async with engine.connect() as conn:
        pending = [
            _policy(row)
            for row in await conn.execute(
                select(policies).where(policies.c.material, policies.c.announced_at.is_(None))
            )
        ]
    return sum([await announce(engine, policy) for policy in pending])


async def keep_announcing(engine: AsyncEngine, interval_s: float) -> None:
    while True:
        try:
            await announce_pending(engine)
        except (SQLAlchemyError, OSError):
            log.exception("resuming policy announcements failed; will retry")
        await asyncio.sleep(interval_s)
