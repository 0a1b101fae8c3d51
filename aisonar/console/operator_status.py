"""The operators' system status: what `GET /api/system/status` answers
(`api/system_status.py`), for the server that serves the page: its version and uptime,
the database (reachable, how fast, its migration against the code's), Redis, the usage
and ledger writers' queues, and the enabled channels by breaker state."""

from __future__ import annotations

from fastapi import Request, Response

from aisonar.console.render import page
from aisonar.console.routing import console_router
from aisonar.console.visit import Member
from aisonar.web.deps import Config, Services, operator
from aisonar.web.system_status import status_now

router = console_router()

STATUS_PATH = "/console/operator/status"


@router.get(STATUS_PATH)
async def status_page(
    request: Request, member: Member, running: Services, settings: Config
) -> Response:
    await operator(member.principal)
    status = await status_now(request.app.state.started_at, running, settings)
    uptime = round(status.uptime_s)
    context = {
        "status": status,
        "uptime": {
            "days": uptime // 86400,
            "hours": uptime % 86400 // 3600,
            "minutes": uptime % 3600 // 60,
        },
    }
    return page(member, "operator_status.html", context)
