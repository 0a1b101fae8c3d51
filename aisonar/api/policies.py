"""The privacy policy and terms through the management API: anyone, signed in or not,
reads the current version of each (`GET /api/policies`, `/api/policies/{kind}`);
operators publish a new one (`POST /api/policies`, announced to everyone when material);
a signed-in person sees which they still have to acknowledge, the console's banner, and
acknowledges them (`/api/me/policies`)."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from aisonar.errors import NotFound
from aisonar.i18n import N_
from aisonar.privacy.services import (
    MAX_BODY_CHARS,
    MAX_TITLE_CHARS,
    Policy,
    PolicyKind,
    PolicyStanding,
    acknowledge,
    announce,
    current_policies,
    current_policy,
    policy_kind,
    publish_policy,
    standings,
)
from aisonar.web.deps import Acting, Caller, Engine, Operator

router = APIRouter(tags=["policies"])


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: PolicyKind
    # Markdown.
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    # Default: "Privacy policy" or "Terms of service".
    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE_CHARS)
    # A material change is announced to everyone, who must acknowledge it again; false
    # for a minor one (a typo), published quietly.
    material: bool = True


class PolicyOut(BaseModel):
    id: str
    kind: PolicyKind
    version: int
    title: str
    # Markdown.
    body: str
    material: bool
    # When this version was published: the document's "last updated" date.
    published_at: datetime
    # SHA-256 of the body, hex.
    digest: str

    @classmethod
    def of(cls, policy: Policy) -> Self:
        return cls(**{name: getattr(policy, name) for name in cls.model_fields})


class PolicyPublished(PolicyOut):
    # How many people were sent a `policy_changed` notice (0 for a minor change).
    announced_to: int


class PolicyStandingOut(BaseModel):
    """A current policy (without its text) as the caller stands with it."""

    id: str
    kind: PolicyKind
    version: int
    title: str
    material: bool
    published_at: datetime
    # Whether the caller acknowledged this version, and when.
    acknowledged: bool
    acknowledged_at: datetime | None
    # True: show the banner. The caller never acknowledged this kind, or a material
    # version came after the last one they did.
    needs_acknowledgement: bool

    @classmethod
    def of(cls, standing: PolicyStanding) -> Self:
        policy = standing.policy
        return cls(
            id=policy.id,
            kind=PolicyKind(policy.kind),
            version=policy.version,
            title=policy.title,
            material=policy.material,
            published_at=policy.published_at,
            acknowledged=standing.acknowledged_at is not None,
            acknowledged_at=standing.acknowledged_at,
            needs_acknowledgement=standing.needs_acknowledgement,
        )


@router.post(
    "/api/policies",
    status_code=201,
    responses={409: {"description": "The current version already has this title and text."}},
)
async def publish(caller: Operator, actor: Acting, db: Engine, body: PolicyIn) -> PolicyPublished:
    """Publish the next version of the privacy policy or the terms (operators). A
    material change records a `policy_changed` notice for every active person (email and
    inbox, whatever their preferences) before this answers."""
    async with db.begin() as conn:
        policy = await publish_policy(
            conn, body.kind, body.body, title=body.title, material=body.material, actor=actor
        )
    announced_to = await announce(db, policy) if policy.material else 0
    return PolicyPublished(**PolicyOut.of(policy).model_dump(), announced_to=announced_to)


@router.get("/api/policies")
async def published_policies(db: Engine) -> list[PolicyOut]:
    """The current version of each policy that is published; no sign-in needed."""
    async with db.connect() as conn:
        return [PolicyOut.of(policy) for policy in await current_policies(conn)]


@router.get("/api/policies/{kind}")
async def published_policy(db: Engine, kind: str) -> PolicyOut:
    """The current version of the `privacy` policy or the `terms`; no sign-in needed.
    404 when none is published."""
    wanted = policy_kind(kind)
    async with db.connect() as conn:
        policy = await current_policy(conn, wanted)
    if policy is None:
        raise NotFound(N_("no {value} policy is published"), value=wanted.value)
    return PolicyOut.of(policy)


@router.get("/api/me/policies")
async def my_policies(caller: Caller, db: Engine) -> list[PolicyStandingOut]:
    """The current policies, whether you acknowledged each, and whether you must."""
    async with db.connect() as conn:
        return [PolicyStandingOut.of(found) for found in await standings(conn, caller.user_id)]


@router.post(
    "/api/me/policies/{policy_id}/acknowledge",
    responses={409: {"description": "A newer version replaced this one."}},
)
async def acknowledge_policy(
    caller: Caller, actor: Acting, db: Engine, policy_id: str
) -> PolicyStandingOut:
    """Record that you read this (current) version; doing it again changes nothing."""
    async with db.begin() as conn:
        found = await acknowledge(conn, caller.user_id, policy_id, actor=actor)
    return PolicyStandingOut.of(found)
