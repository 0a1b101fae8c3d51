"""People who sign in to the console with a password, and what the console tests share:
signing in over plain HTTP, screenshots, the markup that must stay inert."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts import services as accounts
from aisonar.accounts.models import Role
from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.billing.money import parse_amount

PASSWORD = "Quiet-Harbor-Lantern-58"
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass(frozen=True)
class ConsolePerson:
    user_id: str
    org_id: str
    email: str


async def console_person(
    engine: AsyncEngine, *, name: str = "Ada Console", role: Role = Role.USER
) -> ConsolePerson:
    """A person with a password in an organization of their own holding 100 credits."""
    org_name = f"console-{secrets.token_hex(4)}"
    email = f"{org_name}@example.com"
    async with engine.begin() as conn:
        org = await accounts.create_org(conn, org_name)
        user = await accounts.create_user(
            conn, email, org_name, name=name, role=role, password=PASSWORD
        )
        await ledger.credit(
            conn, org.id, NewEntry(LedgerKind.RECHARGE, parse_amount("100"), "test", "credits")
        )
    return ConsolePerson(user.id, org.id, email)


async def sign_in_over_http(http: aiohttp.ClientSession, url: str, email: str) -> None:
    form = {"email": email, "password": PASSWORD, "next": "/console"}
    async with http.post(url + "/console/sign-in", data=form, allow_redirects=False) as answer:
        assert answer.status == 303, await answer.text()
        assert answer.headers["location"] == "/console"


def csrf_token_in(html: str) -> str:
    found = _CSRF_FIELD.search(html)
    assert found and found.group(1), "the page has no CSRF token"
    return found.group(1)


async def open_context(browser: Browser, **options: Any) -> BrowserContext:
    """A fresh browser context (its own cookies) at desktop size; a step that cannot
    happen fails within seconds."""
    context = await browser.new_context(viewport=DESKTOP, **options)
    context.set_default_timeout(10_000)
    return context


async def screenshot(page: Page, name: str) -> None:
    """The page as a desktop and a phone show it, under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    await page.set_viewport_size(DESKTOP)
