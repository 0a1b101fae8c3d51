"""`GET /api/system/status`, for operators: the version and uptime of the server that
answers, its database and Redis, its usage and ledger writers' queues, and its upstream
channels by state (`web/system_status.py`, which the console shows too). Each server
keeps its own queues and circuit breaker: the answer is the answering server's."""

from __future__ import annotations

from fastapi import APIRouter, Request

from aisonar.web.deps import Config, Operator, Services
from aisonar.web.system_status import SystemStatus, status_now

router = APIRouter(tags=["system"])


@router.get("/api/system/status")
async def system_status(
    caller: Operator, request: Request, running: Services, settings: Config
) -> SystemStatus:
    """How this server and what it depends on stand now (operators only)."""
    return await status_now(request.app.state.started_at, running, settings)
