"""The operators' recharge and redemption-code pages. Over plain HTTP a recharge is
confirmed first, then credited once through the API's function (one ledger entry,
audited; the same confirmation sent twice credits once) and the balance stays the sum of
the ledger; bad amounts and unknown organizations change nothing. A code batch is made
(its codes shown once, with a CSV file), listed with what was redeemed, and revoked: its
unredeemed codes no longer redeem. In Chromium a recharge and a batch are made end to
end, and a note with markup stays text."""

from __future__ import annotations

import html as markup
import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from playwright.async_api import Browser
from sqlalchemy import func, select

from aisonar.accounts import services as accounts
from aisonar.billing import codes, ledger
from aisonar.billing.codes import CodeNotRedeemable
from aisonar.store.roles import Role
from aisonar.store.tables import ledger_entries, redemption_codes
from aisonar.testing.gateway_server import RunningGateway
from tests.console.operators import Operator, audited, signed_in
from tests.console.people import MARKUP, browsing_as, console_person, screenshot
from tests.support import Backend

RECHARGES = "/console/operator/recharges"
CODES = "/console/operator/codes"
_CODE = re.compile(r"SONAR(?:-[A-Z2-7]{4}){4}")


async def entries_of(backend: Backend, org_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(ledger_entries).where(ledger_entries.c.org_id == org_id)
        return list(await conn.execute(query.order_by(ledger_entries.c.id)))


async def assert_ledger_holds(backend: Backend, org_id: str) -> int:
    """The organization's balance is the sum of its ledger; the balance."""
    async with backend.engine.connect() as conn:
        balance = (await ledger.durable_balance(conn, org_id)).balance
        assert balance == await ledger.ledger_sum(conn, org_id)
    return balance


def hidden_fields(page: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page)
    return {name: markup.unescape(value) for name, value in found}


async def confirmed_form(operator: Operator, fields: dict[str, str]) -> dict[str, str]:
    """The confirmation page's form for these fields (its idempotency key included)."""
    status, _, page = await operator.post(RECHARGES, fields)
    assert status == 200 and 'action="/console/operator/recharges/confirmed"' in page, page
    form = page[page.index('action="/console/operator/recharges/confirmed"') :]
    shown = hidden_fields(form[: form.index("</form>")])
    del shown["csrf_token"]
    return shown


async def test_a_recharge_is_confirmed_then_credited_once(
    gateway: RunningGateway, backend: Backend
) -> None:
    customer = await console_person(backend.engine)
    before = await entries_of(backend, customer.org_id)
    fields = {
        "org_id": customer.org_id,
        "amount": "12.5",
        "note": "wire transfer",
        "reference": "INV-7",
    }
    async with signed_in(gateway.url, backend) as operator:
        status, page = await operator.get(f"{RECHARGES}?org_id={customer.org_id}")
        assert status == 200 and f'<option value="{customer.org_id}" selected>' in page

        # The confirmation names the organization and the amount, and credits nothing.
        status, _, page = await operator.post(RECHARGES, fields)
        assert status == 200 and 'id="recharge-summary"' in page
        org_name = customer.email.split("@")[0]
        assert f"Credit 12.50 USD to {org_name}?" in page
        assert await entries_of(backend, customer.org_id) == before
        form = await confirmed_form(operator, fields)
        assert form["idempotency_key"].startswith("console-")

        status, location, _ = await operator.post(f"{RECHARGES}/confirmed", form)
        after = await entries_of(backend, customer.org_id)
        [entry] = after[len(before) :]
        assert (entry.kind, entry.amount, entry.reason, entry.reference) == (
            "recharge",
            12_500_000,
            "wire transfer",
            "INV-7",
        )
        assert status == 303
        assert location == f"{RECHARGES}?org_id={customer.org_id}&done={entry.id}"
        assert await assert_ledger_holds(backend, customer.org_id) == 112_500_000
        [audit] = await audited(backend, "balance.recharge", str(entry.id))
        assert audit.actor == operator.person.email and audit.org_id == customer.org_id
        assert audit.changes["amount"] == [None, "12.50"]

        # The same confirmation again (a double click, the back button): credited once.
        status, again, _ = await operator.post(f"{RECHARGES}/confirmed", form)
        assert (status, again) == (303, location)
        assert len(await entries_of(backend, customer.org_id)) == len(after)

        # The page says what was credited, and lists it among the recent recharges.
        status, page = await operator.get(location)
        assert 'id="recharge-done"' in page and "112.50" in page
        table = page[page.index('id="recharges-table"') :]
        assert "wire transfer" in table and "INV-7" in table and operator.person.email in table

        # The live balance, as the API reports it, has the credit.
        async with operator.http.get(f"{gateway.url}/api/orgs/{customer.org_id}/balance") as answer:
            assert (await answer.json())["balance"] == "112.50"


@pytest.mark.parametrize("step", ["confirm", "credit"])
async def test_bad_recharges_change_nothing(
    gateway: RunningGateway, backend: Backend, step: str
) -> None:
    customer = await console_person(backend.engine)
    good = {"org_id": customer.org_id, "amount": "10", "note": "", "reference": ""}
    path = RECHARGES if step == "confirm" else f"{RECHARGES}/confirmed"
    before = await entries_of(backend, customer.org_id)
    async with signed_in(gateway.url, backend) as operator:
        for wrong, expected, says in (
            ({"amount": "-5"}, 400, "must be greater than zero"),
            ({"amount": "0"}, 400, "must be greater than zero"),
            ({"amount": "ten"}, 400, "is not a decimal amount"),
            ({"amount": "1.0000001"}, 400, "six decimal places"),
            ({"amount": ""}, 400, "amount"),
            ({"org_id": ""}, 400, "Choose an organization."),
            ({"org_id": "org_nobody"}, 404, "no organization with id"),
            ({"note": "n" * 501}, 400, "at most 500 characters"),
        ):
            status, _, page = await operator.post(path, good | wrong)
            assert status == expected, (wrong, page)
            errors = re.findall(r'class="error" role="alert">([^<]*)<', page)
            assert errors and says in markup.unescape(errors[0]), (wrong, errors)
            if wrong.get("amount"):
                assert f'value="{wrong["amount"]}"' in page
            assert 'action="/console/operator/recharges/confirmed"' not in page
    assert await entries_of(backend, customer.org_id) == before
    await assert_ledger_holds(backend, customer.org_id)


async def test_the_ledger_holds_after_many_recharges(
    gateway: RunningGateway, backend: Backend
) -> None:
    customer = await console_person(backend.engine)
    async with signed_in(gateway.url, backend) as operator:
        for amount in ("0.000001", "3", "1000000", "7.25"):
            fields = {"org_id": customer.org_id, "amount": amount, "note": "", "reference": ""}
            form = await confirmed_form(operator, fields)
            status, _, _ = await operator.post(f"{RECHARGES}/confirmed", form)
            assert status == 303
    balance = await assert_ledger_holds(backend, customer.org_id)
    assert balance == 100_000_000 + 1 + 3_000_000 + 1_000_000_000_000 + 7_250_000
    entries = await entries_of(backend, customer.org_id)
    running = 0
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running


async def batches_count(backend: Backend) -> int:
    async with backend.engine.connect() as conn:
        query = select(func.count(func.distinct(redemption_codes.c.batch)))
        return int((await conn.execute(query)).scalar_one())


async def test_a_code_batch_is_made_listed_and_revoked(
    gateway: RunningGateway, backend: Backend
) -> None:
    customer = await console_person(backend.engine)
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    async with signed_in(gateway.url, backend) as operator:
        status, _, page = await operator.post(
            CODES, {"amount": "5", "count": "3", "expires": tomorrow}
        )
        assert status == 201, page
        made = sorted(set(_CODE.findall(page)))
        assert len(made) == 3
        batch = re.search(r'id="batch-id">([^<]+)<', page)
        assert batch is not None
        batch_id = batch.group(1)
        # The CSV file carries the same codes.
        href = re.search(r'href="data:text/csv;charset=utf-8,([^"]+)" download=', page)
        assert href is not None
        csv_text = unquote(markup.unescape(href.group(1)))
        assert csv_text.startswith("code,amount,expires_at,batch\r\n")
        assert sorted(_CODE.findall(csv_text)) == made
        async with backend.engine.connect() as conn:
            stored = (
                await conn.execute(
                    select(redemption_codes).where(redemption_codes.c.batch == batch_id)
                )
            ).all()
        assert len(stored) == 3 and {row.amount for row in stored} == {5_000_000}
        assert {row.code_hash for row in stored} == {codes.hash_code(code) for code in made}
        [entry] = await audited(backend, "code.create", batch_id)
        assert entry.actor == operator.person.email

        # Shown once: the list has the batch, never its codes.
        status, page = await operator.get(CODES)
        assert status == 200 and not _CODE.search(page)
        row = page[page.index(batch_id) :]
        row = row[: row.index("</tr>")]
        assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["5.00", "3", "0", "3"]

        async with backend.engine.begin() as conn:
            await codes.redeem(conn, made[0], org_id=customer.org_id, user_id=customer.user_id)
        status, page = await operator.get(f"{CODES}/{batch_id}/revoke")
        assert status == 200 and "Its 2 unredeemed codes can no longer be redeemed" in page
        status, location, _ = await operator.post(f"{CODES}/{batch_id}/revoke", {})
        assert (status, location) == (303, f"{CODES}?revoked={batch_id}")
        status, page = await operator.get(location)
        assert 'id="batch-revoked"' in page
        row = page[page.index(f"<code>{batch_id}</code>") :]
        row = row[: row.index("</tr>")]
        assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["5.00", "3", "1", "0"]
        assert f"{CODES}/{batch_id}/revoke" not in row
        [entry] = await audited(backend, "code.revoke", batch_id)
        assert entry.changes == {"revoked": [None, 2]}

    # The revoked codes no longer redeem; the redeemed one's credit stays.
    async with backend.engine.begin() as conn:
        with pytest.raises(CodeNotRedeemable):
            await codes.redeem(conn, made[1], org_id=customer.org_id, user_id=customer.user_id)
    assert await assert_ledger_holds(backend, customer.org_id) == 105_000_000


async def test_bad_batches_make_nothing(gateway: RunningGateway, backend: Backend) -> None:
    yesterday = (date.today() - timedelta(days=2)).isoformat()
    before = await batches_count(backend)
    async with signed_in(gateway.url, backend) as operator:
        for fields, says in (
            ({"amount": "-1", "count": "2"}, "must be greater than zero"),
            ({"amount": "lots", "count": "2"}, "is not a decimal amount"),
            ({"amount": "5", "count": "0"}, "count: Input should be greater than or equal to 1"),
            ({"amount": "5", "count": "10001"}, "count must be between 1 and 10000"),
            ({"amount": "5", "count": "many"}, "valid integer"),
            ({"amount": "5", "count": "2", "expires": yesterday}, "expiry must be in the future"),
            ({"amount": "5", "count": "2", "expires": "someday"}, "YYYY-MM-DD"),
        ):
            status, _, page = await operator.post(CODES, fields)
            assert status == 400, (fields, page)
            errors = re.findall(r'class="error" role="alert">([^<]*)<', page)
            assert errors and says in markup.unescape(errors[0]), (fields, errors)
            assert f'value="{fields["count"]}"' in page and not _CODE.search(page)
        status, _ = await operator.get(f"{CODES}/batch_nobody/revoke")
        assert status == 404
        status, _, _ = await operator.post(f"{CODES}/batch_nobody/revoke", {})
        assert status == 404
    assert await batches_count(backend) == before


async def test_a_recharge_and_a_code_batch_in_a_browser(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    customer = await console_person(backend.engine, role=Role.ORG_ADMIN)
    async with backend.engine.connect() as conn:
        org = await accounts.get_org(conn, customer.org_id)
    note = MARKUP + " top-up"
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    async with browsing_as(browser, gateway.url, operator.email, locale="en-US") as seen:
        page = seen.page
        await page.click(f"nav.main-nav a[href='{RECHARGES}']")
        await page.wait_for_url(gateway.url + RECHARGES)
        await page.select_option("#recharge-org", customer.org_id)
        await page.fill("#recharge-amount", "40")
        await page.fill("#recharge-note", note)
        await screenshot(page, "operator-recharges")
        await page.click("form[action='/console/operator/recharges'] button")
        await page.wait_for_selector("#recharge-summary")
        assert await page.inner_text("#recharge-amount-shown") == "40.00 USD"
        assert org.name in await page.inner_text("#recharge-summary")
        await screenshot(page, "operator-recharge-confirm")
        await page.click("form[action='/console/operator/recharges/confirmed'] button")
        await page.wait_for_selector("#recharge-done")
        assert "140.00" in await page.inner_text("#recharge-done")
        assert note in await page.inner_text("#recharges-table")
        assert await page.locator("img[src=x]").count() == 0
        assert await assert_ledger_holds(backend, customer.org_id) == 140_000_000

        await page.click(f"nav.main-nav a[href='{CODES}']")
        await page.wait_for_url(gateway.url + CODES)
        await page.fill("#batch-amount", "2.50")
        await page.fill("#batch-count", "4")
        await page.click("form[action='/console/operator/codes'] button")
        await page.wait_for_selector("#codes-text")
        shown = (await page.input_value("#codes-text")).split("\n")
        assert len(shown) == 4 and all(_CODE.fullmatch(code) for code in shown)
        await screenshot(page, "operator-codes-created")
        async with page.expect_download() as downloading:
            await page.click("#codes-csv")
        download = await downloading.value
        saved = await download.path()
        assert sorted(_CODE.findall(saved.read_text())) == sorted(shown)
        batch = await page.inner_text("#batch-id")

        await page.click("text=Back to the batches")
        await page.wait_for_url(gateway.url + CODES)
        await screenshot(page, "operator-codes")
        await page.click(f"a[href='{CODES}/{batch}/revoke']")
        await page.wait_for_url(f"{gateway.url}{CODES}/{batch}/revoke")
        await screenshot(page, "operator-codes-revoke")
        await page.click("button.danger")
        await page.wait_for_selector("#batch-revoked")
        async with backend.engine.connect() as conn:
            assert (await codes.get_batch(conn, batch)).redeemable == 0


async def test_code_batches_are_listed_newest_first_fifty_at_a_time(
    gateway: RunningGateway, backend: Backend
) -> None:
    async with backend.engine.begin() as conn:
        for _ in range(55):
            await codes.create_codes(conn, amount="1", count=1, expires_at=None)
        everyone = [found.batch for found in await codes.list_batches(conn, limit=10_000)]
    shown: list[list[str]] = []
    async with signed_in(gateway.url, backend) as operator:
        following: str | None = CODES
        while following is not None:
            status, page = await operator.get(following)
            assert status == 200, page
            shown.append(re.findall(r"<td><code>(batch_[0-9a-f]+)</code></td>", page))
            older = re.search(r'<a href="([^"]+)" rel="next">', page)
            following = markup.unescape(older.group(1)) if older else None
    assert all(len(found) == 50 for found in shown[:-1]) and 1 <= len(shown[-1]) <= 50
    assert [batch for found in shown for batch in found] == everyone
    assert f'<a href="{CODES}">' in page  # back to the newest
