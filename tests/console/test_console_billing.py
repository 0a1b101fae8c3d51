"""Billing: the organization's balance and its ledger, newest first a page at a time, the
ledger downloaded as the API streams it, and redeeming a code: the credit is shown and
the ledger still sums to the balance; an unknown, used or expired code changes nothing,
and failures are throttled as the API throttles them. Nobody sees another organization's
ledger; a note made of markup stays text."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

from playwright.async_api import Browser
from sqlalchemy import func, select, update

from aisonar.billing import codes, ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.billing.money import parse_amount
from aisonar.clock import utcnow
from aisonar.store.tables import ledger_entries, organizations, redemption_codes
from aisonar.testing.gateway_server import RunningGateway
from tests.console.forms import element_text, fetch, signed_in, submit
from tests.console.people import (
    MARKUP,
    browsing_as,
    console_person,
    csrf_token_in,
    screenshot,
)
from tests.support import Backend

BILLING = "/console/billing"
REDEEM = BILLING + "/redeem"


async def new_code(backend: Backend, amount: str) -> str:
    async with backend.engine.begin() as conn:
        batch = await codes.create_codes(conn, amount=amount, count=1, expires_at=None)
    return batch.codes[0]


async def books(backend: Backend, org_id: str) -> tuple[int, int, int]:
    """The organization's balance, the sum of its ledger, and its number of entries."""
    async with backend.engine.connect() as conn:
        balance = await conn.scalar(
            select(organizations.c.balance).where(organizations.c.id == org_id)
        )
        count = await conn.scalar(select(func.count()).where(ledger_entries.c.org_id == org_id))
        return int(balance or 0), await ledger.ledger_sum(conn, org_id), int(count or 0)


def ledger_rows(page_html: str) -> int:
    """The entries the ledger table shows (its header row aside)."""
    table = page_html.split('id="ledger-table"', 1)[1].split("</table>", 1)[0]
    return table.count("<tr>") - 1


async def test_redeeming_credits_once_and_refused_codes_change_nothing(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    good = await new_code(backend, "12.50")
    used = await new_code(backend, "3")
    expired = await new_code(backend, "4")
    async with backend.engine.begin() as conn:
        await codes.redeem(conn, used, org_id=person.org_id, user_id=person.user_id)
        await conn.execute(
            update(redemption_codes)
            .where(redemption_codes.c.code_hash == codes.hash_code(expired))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    url = gateway.url
    http = await signed_in(url, person.email)
    try:
        status, html = await fetch(http, url + BILLING)
        assert status == 200 and element_text(html, "balance").startswith("103.00")

        # Typed in lower case with spaces, as people copy it: still the code.
        typed = good.lower().replace("-", " - ")
        status, location, _ = await submit(http, url, BILLING, REDEEM, {"code": typed})
        assert status == 303 and location.startswith(BILLING + "?redeemed=")
        status, html = await fetch(http, url + location)
        assert status == 200
        shown = element_text(html, "redeemed")
        assert "12.50 USD credited" in shown and "115.50 USD" in shown
        assert element_text(html, "balance").startswith("115.50")
        # This month's statement closes with the balance.
        assert element_text(html, f"closing-{utcnow():%Y-%m}") == "115.50"
        balance, total, entries = await books(backend, person.org_id)
        assert balance == total == parse_amount("115.50")

        # The same code again, a used one, an expired one, one that never existed:
        # refused with the API's message, the form keeps what was typed, nothing moves.
        refused_codes = [good, used, expired]
        for code in refused_codes:
            status, _, html = await submit(http, url, BILLING, REDEEM, {"code": code})
            assert status == 400, code
            assert "not valid, or it was already used or has expired" in html
            assert f'value="{code}"' in html
        assert await books(backend, person.org_id) == (balance, total, entries)
        # Three failures in the hour (the test settings' limit): the next attempt is
        # refused before the code is looked at, even a good one.
        another = await new_code(backend, "1")
        throttled = {"code": another, "csrf_token": csrf_token_in(html)}
        async with http.post(url + REDEEM, data=throttled) as a:
            assert a.status == 429 and int(a.headers["retry-after"]) > 0
        assert await books(backend, person.org_id) == (balance, total, entries)
        # An empty code is refused too.
        status, _, _ = await submit(http, url, BILLING, REDEEM, {"code": "  "})
        assert status == 400
    finally:
        await http.close()


async def test_the_ledger_pages_and_downloads_and_stays_in_its_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    stranger = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        await ledger.append(
            conn,
            person.org_id,
            [NewEntry(LedgerKind.ADJUSTMENT, -1000 - n, "test", f"entry {n}") for n in range(60)],
        )
        await ledger.credit(
            conn, person.org_id, NewEntry(LedgerKind.RECHARGE, 5_000_000, "test", MARKUP)
        )
        await ledger.credit(
            conn, stranger.org_id, NewEntry(LedgerKind.RECHARGE, 7_000_000, "test", "not yours")
        )
        batch = await codes.create_codes(conn, amount="2", count=1, expires_at=None)
        theirs = await codes.redeem(
            conn, batch.codes[0], org_id=stranger.org_id, user_id=stranger.user_id
        )
    url = gateway.url
    http = await signed_in(url, person.email)
    try:
        status, html = await fetch(http, url + BILLING)
        assert status == 200 and "not yours" not in html
        # The markup note is text.
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and MARKUP not in html
        # Newest first: the recharge, then the adjustments from the last one down.
        assert ledger_rows(html) == 50
        assert ">entry 59<" in html and ">entry 11<" in html and ">entry 10<" not in html
        older = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
        status, html = await fetch(http, url + older.replace("&amp;", "&"))
        # The rest: entries 10 to 0, and the first recharge.
        assert status == 200 and ledger_rows(html) == 12
        assert ">entry 10<" in html and ">entry 0<" in html and 'rel="next"' not in html
        # Another organization's redemption is not shown as the person's.
        status, html = await fetch(http, f"{url}{BILLING}?redeemed={theirs.id}")
        assert status == 200 and 'id="redeemed"' not in html
        assert (await fetch(http, f"{url}{BILLING}?before=nope"))[0] == 400

        # Downloads: every entry of the organization, oldest first, as the API has them.
        balance, total, count = await books(backend, person.org_id)
        async with http.get(url + BILLING + "/ledger?format=csv") as answer:
            assert answer.status == 200
            assert answer.headers["content-type"].startswith("text/csv")
            assert 'filename="ledger.csv"' in answer.headers["content-disposition"]
            rows = list(csv.DictReader(io.StringIO(await answer.text())))
        assert len(rows) == count and {row["org_id"] for row in rows} == {person.org_id}
        assert sum(int(row["amount"]) for row in rows) == total == balance
        assert [int(row["id"]) for row in rows] == sorted(int(row["id"]) for row in rows)
        async with http.get(url + BILLING + "/ledger?format=jsonl") as answer:
            assert answer.status == 200
            lines = [json.loads(line) for line in (await answer.text()).splitlines()]
        assert [line["id"] for line in lines] == [int(row["id"]) for row in rows]
        assert lines[-1]["reason"] == MARKUP
        day = utcnow().date().isoformat()
        async with http.get(url + BILLING + f"/ledger?format=jsonl&since={day}") as answer:
            assert len((await answer.text()).splitlines()) == count
        tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
        async with http.get(url + BILLING + f"/ledger?format=csv&since={tomorrow}") as answer:
            assert len(list(csv.DictReader(io.StringIO(await answer.text())))) == 0
        async with http.get(url + BILLING + "/ledger?format=csv&since=yesterday") as answer:
            assert answer.status == 400
    finally:
        await http.close()


async def test_billing_in_a_browser(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        await ledger.credit(
            conn, person.org_id, NewEntry(LedgerKind.RECHARGE, parse_amount("1"), "t", MARKUP)
        )
    code = await new_code(backend, "20")
    async with browsing_as(browser, gateway.url, person.email, locale="en-US") as seen:
        page = seen.page
        await page.click(".cookie-banner button[value=no]")
        await page.click("nav a[href='/console/billing']")
        assert page.url == gateway.url + BILLING
        assert MARKUP in (await page.locator("#ledger-table").text_content() or "")
        await page.fill("#redeem-code", "SONAR-NOT-A-CODE")
        await page.click("#redeem-form button[type=submit]")
        assert "not valid" in (await page.locator("p.error").text_content() or "")
        await page.fill("#redeem-code", code)
        await page.click("#redeem-form button[type=submit]")
        assert "20.00 USD credited" in (await page.locator("#redeemed").text_content() or "")
        assert (await page.locator("#balance").text_content() or "").startswith("121.00")
        rows: Any = page.locator("#ledger-table tbody tr")
        assert "redeemed code" in (await rows.first.text_content() or "")
        assert await page.locator("img[src=x]").count() == 0 and seen.dialogs == []
        await screenshot(page, "billing")
        async with page.expect_download() as started:
            await page.click("#ledger-download button[type=submit]")
        download = await started.value
        assert download.suggested_filename == "ledger.csv"
