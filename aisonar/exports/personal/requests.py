"""Asking for a personal export (`archive.py`): each is counted against the hourly
allowance of the person asking (`AISONAR_EXPORTS_PER_HOUR`), since each reads all of
someone's records; a person's own export holds everything, their confidential support
conversations too. The use cases behind `GET /api/me/export`,
`GET /api/users/{id}/export` and the console's privacy page."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts import services as accounts
from aisonar.errors import Throttled
from aisonar.exports.personal.models import Exported
from aisonar.i18n import N_
from aisonar.limits.store import LimitStore
from aisonar.limits.throttle import count_one, hourly


class TooManyExports(Throttled):
    code = "too_many_exports"
    refusal = N_("Too many data exports; try again in {seconds} s.")


async def count_export(store: LimitStore, per_hour: int, user_id: str) -> None:
    """Count one export asked for by the person; TooManyExports past the allowance."""
    check = hourly("personal data exports", f"personal-export:user:{user_id}", per_hour)
    await count_one(store, [check], TooManyExports)


async def own_export(
    engine: AsyncEngine, store: LimitStore, per_hour: int, user_id: str
) -> Exported:
    """What the person's own export holds, counted against their allowance."""
    await count_export(store, per_hour, user_id)
    async with engine.connect() as conn:
        person = await accounts.get_user(conn, user_id)
    return Exported(person, confidential=True)
