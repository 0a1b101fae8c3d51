"""The console on the FastAPI app it shares with the management API (`aisonar.app` puts
them side by side): its pages, its static files under `/static/`, and its security
headers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from aisonar.console import (
    abuse,
    access_tokens,
    audit,
    auth,
    billing,
    dashboard,
    key_detail,
    keys,
    notices,
    operator_channels,
    operator_codes,
    operator_deletions,
    operator_orgs,
    operator_prices,
    operator_recharges,
    operator_site,
    operator_status,
    operator_users,
    org,
    org_alert_history,
    org_alerts,
    org_member_access,
    org_members,
    password_reset,
    privacy,
    profile,
    quickstart,
    site,
    support,
    usage,
)
from aisonar.console.security import ConsoleHeaders
from aisonar.console.unknown_pages import answer_unknown_pages

STATIC = Path(__file__).parent / "static"


def add_console(api: FastAPI) -> None:
    for router in (
        auth.router,
        site.router,
        dashboard.router,
        keys.router,
        key_detail.router,
        usage.router,
        billing.router,
        quickstart.router,
        profile.router,
        access_tokens.router,
        notices.router,
        password_reset.router,
        org.router,
        org_members.router,
        org_member_access.router,
        org_alerts.router,
        org_alert_history.router,
        privacy.router,
        support.router,
        audit.router,
        operator_channels.router,
        operator_deletions.router,
        abuse.router,
        operator_site.router,
        operator_status.router,
        operator_orgs.router,
        operator_users.router,
        operator_recharges.router,
        operator_codes.router,
        operator_prices.router,
    ):
        api.include_router(router)
    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    api.add_middleware(ConsoleHeaders)
    answer_unknown_pages(api)
