"""A person's own support requests as they write them, the use cases behind
`POST /api/me/support` (and `/messages`) and the console's support pages: each message
is counted against the person's hourly allowance (`AISONAR_SUPPORT_MESSAGES_PER_HOUR`),
and refused with nothing stored past it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.audit.models import Actor
from aisonar.config import Settings
from aisonar.errors import Throttled
from aisonar.i18n import N_
from aisonar.limits.store import LimitStore
from aisonar.limits.throttle import count_one, hourly
from aisonar.support import services as support
from aisonar.support.models import SupportThread


class TooManySupportMessages(Throttled):
    code = "too_many_support_messages"
    refusal = N_("Too many support messages; try again in {seconds} s.")


async def _count_message(store: LimitStore, settings: Settings, user_id: str) -> None:
    """Count one message of the person; refused (429) past their hourly allowance."""
    check = hourly(
        "support messages of the account",
        f"support:user:{user_id}",
        settings.support_messages_per_hour,
    )
    await count_one(store, [check], TooManySupportMessages)


async def open_own_request(
    engine: AsyncEngine,
    store: LimitStore,
    settings: Settings,
    user_id: str,
    actor: Actor,
    *,
    subject: str,
    body: str,
) -> SupportThread:
    """The person's new request with its first message, counted against their hourly
    allowance."""
    async with engine.begin() as conn:
        opened = await support.open_request(conn, user_id, subject, body, actor=actor)
        # Counted once it would be stored; a refusal rolls it back.
        await _count_message(store, settings, user_id)
    return opened


async def write_in_own_request(
    engine: AsyncEngine,
    store: LimitStore,
    settings: Settings,
    user_id: str,
    support_id: str,
    body: str,
) -> SupportThread:
    """The person's message in their own open request, counted against their hourly
    allowance."""
    async with engine.begin() as conn:
        written = await support.add_message(conn, support_id, user_id, body)
        await _count_message(store, settings, user_id)
    return written
