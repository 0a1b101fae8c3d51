"""Every organization's notices, for operators (`aisonar notice list`); people read their
own in `/api/me/notices`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from aisonar.api import paging
from aisonar.api.me import NoticeOut
from aisonar.notify.services import list_notices
from aisonar.web.deps import Engine, Operator
from aisonar.web.ids import RowId

router = APIRouter(prefix="/api/notices", tags=["notices"])


class OrgNoticeOut(NoticeOut):
    org_id: str


@router.get("")
async def all_notices(
    caller: Operator,
    db: Engine,
    request: Request,
    response: Response,
    org_id: Annotated[str | None, Query()] = None,
    before_id: Annotated[RowId | None, Query(description="Page back from this notice.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OrgNoticeOut]:
    """The newest notices first, of one organization or all; a full page's `Link` header
    (`rel="next"`) gives the older ones."""
    async with db.connect() as conn:
        found = await list_notices(conn, org_id, before_id=before_id, limit=limit)
    shown = paging.back(found, limit, request, response, lambda notice: notice.id)
    return [OrgNoticeOut.of(notice) for notice in shown]
