"""People who sign in to the console with a password, and what the console tests share:
signing in over plain HTTP or in a browser, screenshots, the markup that must stay inert."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    ViewportSize,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts import services as accounts
from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.billing.money import parse_amount
from aisonar.store.roles import Role

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


@dataclass
class Browsing:
    """A browser context of its own, its page, the messages of the dialogs any script
    opened (each dismissed) and the errors written to the browser's console."""

    context: BrowserContext
    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        """Record (and dismiss) the dialogs and console errors of another page too."""

        async def refuse(dialog: Dialog) -> None:
            self.dialogs.append(dialog.message)
            await dialog.dismiss()

        def keep_error(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(message.text)

        page.on("dialog", refuse)
        page.on("console", keep_error)
        return page


@asynccontextmanager
async def browsing(browser: Browser, **context_options: Any) -> AsyncIterator[Browsing]:
    """`async with browsing(browser) as seen:` a visitor not signed in, in a fresh context
    (`open_context`), closed afterwards; once the block ends without an exception, no
    dialog opened (markup stays inert; the console's script asks nothing)."""
    context = await open_context(browser, **context_options)
    try:
        seen = Browsing(context, await context.new_page())
        seen.watch(seen.page)
        yield seen
    finally:
        await context.close()
    assert seen.dialogs == [], seen.dialogs


async def sign_in_in_browser(page: Page, url: str, email: str, password: str = PASSWORD) -> None:
    """Through the sign-in form, landing on the dashboard."""
    await page.goto(url + "/console/sign-in")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("form.stacked button[type=submit]")
    await page.wait_for_url(url + "/console")


@asynccontextmanager
async def browsing_as(
    browser: Browser, url: str, email: str, **context_options: Any
) -> AsyncIterator[Browsing]:
    """`async with browsing_as(browser, url, email) as seen:` as `browsing`, signed in as
    the person (with PASSWORD) through the sign-in form, on the dashboard."""
    async with browsing(browser, **context_options) as seen:
        await sign_in_in_browser(seen.page, url, email)
        yield seen


async def screenshot(page: Page, name: str) -> None:
    """The page as a desktop and a phone show it, under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    await page.set_viewport_size(DESKTOP)
