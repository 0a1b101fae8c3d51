"""`/api/me/consents`: a person's current choice for each purpose (analytics), the history
of their choices and sign-up declarations, and a new choice: granting, or withdrawing
(objecting), recorded under the current privacy policy."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StrictBool
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.privacy.services import (
    Consent,
    consent_history,
    current_choices,
    purpose_named,
    record_choice,
)
from aisonar.web.deps import Acting, Caller, Engine

router = APIRouter(prefix="/api/me/consents", tags=["me"])


class ConsentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # false withdraws consent (objects to the processing).
    granted: StrictBool


class ConsentOut(BaseModel):
    id: int
    # analytics; or, declared at sign-up, terms and age_confirmed.
    purpose: str
    granted: bool
    # The privacy policy in force when it was recorded (the terms, for what was declared
    # at sign-up); null when none was published.
    policy_id: str | None
    recorded_at: datetime
    # api or signup.
    source: str

    @classmethod
    def of(cls, consent: Consent) -> Self:
        return cls(**vars(consent))


class ConsentsOut(BaseModel):
    # Each purpose and whether it is granted now (never, until the person says so).
    current: dict[str, bool]
    # Every entry, newest first.
    history: list[ConsentOut]


async def _consents_of(conn: AsyncConnection, user_id: str) -> ConsentsOut:
    return ConsentsOut(
        current=await current_choices(conn, user_id),
        history=[ConsentOut.of(found) for found in await consent_history(conn, user_id)],
    )


@router.get("")
async def my_consents(caller: Caller, db: Engine) -> ConsentsOut:
    async with db.connect() as conn:
        return await _consents_of(conn, caller.user_id)


@router.put("/{purpose}")
async def choose_consent(
    caller: Caller, actor: Acting, db: Engine, purpose: str, body: ConsentChange
) -> ConsentsOut:
    """Grant or withdraw consent to a purpose (`analytics`: your use of the console
    counted in the operator's aggregated site analytics). Takes effect at once."""
    chosen = purpose_named(purpose)
    async with db.begin() as conn:
        await record_choice(conn, caller.user_id, chosen, body.granted, actor=actor)
        return await _consents_of(conn, caller.user_id)
