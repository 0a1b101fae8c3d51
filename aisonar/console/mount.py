"""The console on the management API's FastAPI app: its pages, its static files under
`/static/`, and its security headers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from aisonar.console import (
    access_tokens,
    auth,
    dashboard,
    keys,
    notices,
    org,
    org_alerts,
    org_members,
    password_reset,
    profile,
    site,
    usage,
)
from aisonar.console.security import ConsoleHeaders

STATIC = Path(__file__).parent / "static"


def add_console(api: FastAPI) -> None:
    for router in (
        auth.router,
        site.router,
        dashboard.router,
        keys.router,
        usage.router,
        profile.router,
        access_tokens.router,
        notices.router,
        password_reset.router,
        org.router,
        org_members.router,
        org_alerts.router,
    ):
        api.include_router(router)
    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    api.add_middleware(ConsoleHeaders)
