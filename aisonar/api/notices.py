"""Every organization's notices, for operators (`aisonar notice list`); people read their
own in `/api/me/notices`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aisonar.api.me import NoticeOut
from aisonar.notify.notices import list_notices
from aisonar.web.deps import Engine, Operator

router = APIRouter(prefix="/api/notices", tags=["notices"])


class OrgNoticeOut(NoticeOut):
    org_id: str


@router.get("")
async def all_notices(
    caller: Operator, db: Engine, org_id: Annotated[str | None, Query()] = None
) -> list[OrgNoticeOut]:
    """The newest notices first (at most 1,000), of one organization or all."""
    async with db.connect() as conn:
        found = await list_notices(conn, org_id)
    return [OrgNoticeOut.of(notice) for notice in found]
