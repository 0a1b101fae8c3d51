"""A key's own page: what the API lets a person set on their key (what it may do and the
addresses it may be used from, at creation and after), its limits (everyone reads them,
only the organization's admins change them), what it spent, and rotating it, which asks
for the password once the session's proof is older than the window and keeps the old
secret working for the grace chosen. Other people's keys are not found; refused input
changes nothing; a name made of markup stays text."""

from __future__ import annotations

from typing import Any

import httpx
import openai
from playwright.async_api import Browser
from sqlalchemy import select

from aisonar.accounts import services as accounts
from aisonar.clock import utcnow
from aisonar.limits.models import LimitChanges, Subject, SubjectKind
from aisonar.limits.services import get_limits, set_limits
from aisonar.store.roles import Role
from aisonar.store.tables import api_keys
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.compaction import compact
from tests.console.forms import (
    element_text,
    eventually,
    fetch,
    prove_long_ago,
    signed_in,
    submit,
)
from tests.console.people import (
    MARKUP,
    PASSWORD,
    browsing_as,
    console_person,
    screenshot,
)
from tests.support import Backend, writer_drained

KEYS = "/console/keys"
NEW_KEY = {"name": "ci", "models": "", "expires": "", "scope": "all", "allowed_ips": ""}


async def key_rows(backend: Backend, user_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(api_keys).where(api_keys.c.user_id == user_id).order_by(api_keys.c.id)
        return list(await conn.execute(query))


async def key_row(backend: Backend, key_id: str) -> Any:
    async with backend.engine.connect() as conn:
        return (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).one()


async def own_rpm(backend: Backend, key_id: str) -> int | None:
    async with backend.engine.connect() as conn:
        return (await get_limits(conn, Subject(SubjectKind.KEY, key_id))).rpm


async def models_status(gateway: RunningGateway, secret: str) -> int:
    """What the gateway answers `GET /v1/models` with this secret."""
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            gateway.url + "/v1/models", headers={"Authorization": f"Bearer {secret}"}
        )
        return answer.status_code


async def accepted(gateway: RunningGateway, secret: str) -> bool:
    return await models_status(gateway, secret) == 200


async def refused(gateway: RunningGateway, secret: str) -> bool:
    return await models_status(gateway, secret) in (401, 403)


async def test_a_key_is_created_with_its_scope_and_addresses_which_change_later(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    url = gateway.url
    http = await signed_in(url, person.email)
    try:
        # Refused at creation: an address that is none, a scope that does not exist.
        bad_address = NEW_KEY | {"allowed_ips": "10.0.0.0/8, not-an-address"}
        status, _, html = await submit(http, url, KEYS, KEYS, bad_address)
        assert status == 400 and "is not an address or CIDR block" in html
        assert 'value="10.0.0.0/8, not-an-address"' in html
        status, _, html = await submit(http, url, KEYS, KEYS, NEW_KEY | {"scope": "everything"})
        assert status == 400 and "What it may do" in html
        assert await key_rows(backend, person.user_id) == []

        chosen = NEW_KEY | {"scope": "ingest", "allowed_ips": "10.0.0.0/8, 203.0.113.7"}
        status, _, html = await submit(http, url, KEYS, KEYS, chosen)
        assert status == 201 and "only report usage" in html
        [row] = await key_rows(backend, person.user_id)
        assert row.scope == "ingest" and list(row.allowed_ips) == ["10.0.0.0/8", "203.0.113.7/32"]
        detail = f"{KEYS}/{row.id}"
        status, html = await fetch(http, url + KEYS)
        assert f'href="{detail}"' in html
        status, html = await fetch(http, url + detail)
        assert status == 200 and row.display_prefix in html and "only report usage" in html
        assert 'value="10.0.0.0/8, 203.0.113.7/32"' in html

        # The allowlist: a bad address changes nothing and is shown back as typed.
        action = detail + "/allowed-ips"
        status, _, html = await submit(http, url, detail, action, {"allowed_ips": "300.1.1.1"})
        assert status == 400 and 'value="300.1.1.1"' in html and "300.1.1.1" in html
        assert list((await key_row(backend, row.id)).allowed_ips) == [
            "10.0.0.0/8",
            "203.0.113.7/32",
        ]
        status, location, _ = await submit(http, url, detail, action, {"allowed_ips": "192.0.2.9"})
        assert (status, location) == (303, detail + "#addresses")
        assert list((await key_row(backend, row.id)).allowed_ips) == ["192.0.2.9/32"]
        # Emptied: anywhere again.
        status, _, _ = await submit(http, url, detail, action, {"allowed_ips": ""})
        assert status == 303 and (await key_row(backend, row.id)).allowed_ips is None
    finally:
        await http.close()


async def test_the_allowlist_set_on_the_page_is_what_the_gateway_enforces(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        key, secret = await accounts.create_key(conn, person.email, name="fenced")
    detail = f"{KEYS}/{key.id}"
    http = await signed_in(gateway.url, person.email)
    try:
        assert await models_status(gateway, secret) == 200
        fields = {"allowed_ips": "192.0.2.0/24"}
        status, _, _ = await submit(http, gateway.url, detail, detail + "/allowed-ips", fields)
        assert status == 303
        await eventually(lambda: refused(gateway, secret))
        fields = {"allowed_ips": "127.0.0.1"}
        status, _, _ = await submit(http, gateway.url, detail, detail + "/allowed-ips", fields)
        assert status == 303
        await eventually(lambda: accepted(gateway, secret))
    finally:
        await http.close()


async def test_a_user_reads_their_keys_limits_and_an_admin_changes_their_own(
    gateway: RunningGateway, backend: Backend
) -> None:
    user = await console_person(backend.engine)
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    async with backend.engine.begin() as conn:
        users_key, _ = await accounts.create_key(conn, user.email, name="users")
        admins_key, _ = await accounts.create_key(conn, admin.email, name="admins")
        await set_limits(conn, Subject(SubjectKind.KEY, users_key.id), LimitChanges(rpm=7))
    url = gateway.url
    as_user = await signed_in(url, user.email)
    as_admin = await signed_in(url, admin.email)
    try:
        detail = f"{KEYS}/{users_key.id}"
        status, html = await fetch(as_user, url + detail)
        assert status == 200 and 'id="key-limits-form"' not in html
        assert "Requests per minute" in html and "<dd>7</dd>" in html
        # A user may not change them, as the API decides: refused, nothing changes.
        status, _, html = await submit(as_user, url, detail, detail + "/limits", {"rpm": "1"})
        assert status == 403 and await own_rpm(backend, users_key.id) == 7

        mine = f"{KEYS}/{admins_key.id}"
        status, html = await fetch(as_admin, url + mine)
        assert status == 200 and 'id="key-limits-form"' in html
        fields = {"rpm": "abc", "tpm": "", "concurrent": "", "daily_spend": "", "monthly_spend": ""}
        status, _, html = await submit(as_admin, url, mine, mine + "/limits", fields)
        assert status == 400 and 'value="abc"' in html
        assert await own_rpm(backend, admins_key.id) is None
        fields |= {"rpm": "5", "daily_spend": "2.50"}
        status, location, _ = await submit(as_admin, url, mine, mine + "/limits", fields)
        assert (status, location) == (303, mine + "#limits")
        async with backend.engine.connect() as conn:
            limits = await get_limits(conn, Subject(SubjectKind.KEY, admins_key.id))
        assert limits.rpm == 5 and limits.daily_spend == 2_500_000
        status, html = await fetch(as_admin, url + mine)
        assert 'value="5"' in html and 'value="2.50"' in html
        # Emptied: the key's own limit is gone.
        fields |= {"rpm": ""}
        status, _, _ = await submit(as_admin, url, mine, mine + "/limits", fields)
        assert status == 303 and await own_rpm(backend, admins_key.id) is None
    finally:
        await as_user.close()
        await as_admin.close()


async def test_other_peoples_keys_are_not_found_and_stay_as_they_are(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine, role=Role.ORG_ADMIN)
    stranger = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        theirs, _ = await accounts.create_key(conn, stranger.email, name="theirs")
        org = await accounts.get_org(conn, person.org_id)
        member = await accounts.create_user(
            conn, f"member-{person.email}", org.name, password=PASSWORD
        )
        members_key, _ = await accounts.create_key(conn, member.email, name="member's")
    url = gateway.url
    http = await signed_in(url, person.email)
    try:
        # Another organization's key, and (on these pages of one's own keys) a member's.
        for key in (theirs, members_key):
            detail = f"{KEYS}/{key.id}"
            assert (await fetch(http, url + detail))[0] == 404
            for action, fields in (
                ("/allowed-ips", {"allowed_ips": "192.0.2.1"}),
                ("/limits", {"rpm": "1"}),
                ("/rotate", {"grace_s": "0", "current_password": PASSWORD}),
            ):
                status, _, _ = await submit(http, url, KEYS, detail + action, fields)
                assert status == 404, action
            row = await key_row(backend, key.id)
            assert row.allowed_ips is None and row.key_hash == key_hash(key.id, row)
            assert await own_rpm(backend, key.id) is None
            assert row.previous_key_hash is None
    finally:
        await http.close()


def key_hash(key_id: str, row: Any) -> str:
    """The row's hash (read back: nothing rotated it)."""
    assert row.id == key_id
    return str(row.key_hash)


async def test_the_page_shows_what_the_key_spent(gateway: RunningGateway, backend: Backend) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        used, secret = await accounts.create_key(conn, person.email, name="used")
        idle, _ = await accounts.create_key(conn, person.email, name="idle")
    client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)
    for _ in range(2):
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
    await client.close()
    await writer_drained(gateway)
    async with backend.engine.begin() as conn:
        await compact(conn, utcnow())
    http = await signed_in(gateway.url, person.email)
    try:
        _, html = await fetch(http, f"{gateway.url}{KEYS}/{used.id}")
        assert element_text(html, "requests-month") == "2"
        assert element_text(html, "requests-30-days") == "2"
        assert float(element_text(html, "spend-30-days").split()[0]) > 0
        _, html = await fetch(http, f"{gateway.url}{KEYS}/{idle.id}")
        assert element_text(html, "requests-30-days") == "0"
    finally:
        await http.close()


async def test_rotating_asks_for_a_recent_password_and_keeps_the_old_secret_a_while(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        key, old_secret = await accounts.create_key(conn, person.email, name="rotated")
    detail = f"{KEYS}/{key.id}"
    rotate = detail + "/rotate"
    url = gateway.url
    http = await signed_in(url, person.email)
    try:
        status, html = await fetch(http, url + detail)
        assert status == 200 and 'name="current_password"' not in html
        await prove_long_ago(backend, person.user_id)
        status, html = await fetch(http, url + detail)
        assert 'name="current_password"' in html
        before = await key_row(backend, key.id)
        for password, expected in (("", 403), ("not-my-password", 400)):
            fields = {"grace_s": "3600", "current_password": password}
            status, _, html = await submit(http, url, detail, rotate, fields)
            assert status == expected and 'class="error"' in html
        for grace in ("soon", str(31 * 86400)):
            fields = {"grace_s": grace, "current_password": PASSWORD}
            status, _, _ = await submit(http, url, detail, rotate, fields)
            assert status == 400, grace
        assert (await key_row(backend, key.id)).key_hash == before.key_hash

        fields = {"grace_s": "3600", "current_password": PASSWORD}
        status, _, html = await submit(http, url, detail, rotate, fields)
        assert status == 201
        new_secret = element_text(html, "key-secret").strip()
        assert new_secret.startswith("sk-") and new_secret != old_secret
        assert "works until" in element_text(html, "previous-secret")
        row = await key_row(backend, key.id)
        assert row.key_hash != before.key_hash and row.previous_key_hash == before.key_hash
        left = row.previous_valid_until.replace(tzinfo=None) - utcnow().replace(tzinfo=None)
        assert 3500 < left.total_seconds() <= 3600
        # Both secrets work during the grace period.
        await eventually(lambda: accepted(gateway, new_secret))
        assert await accepted(gateway, old_secret)
        # Proved just now: the next rotation needs no password; without grace, the
        # secret rotated out stops at once.
        status, html = await fetch(http, url + detail)
        assert 'name="current_password"' not in html and "works until" in html
        status, _, html = await submit(http, url, detail, rotate, {"grace_s": "0"})
        assert status == 201 and "stopped working now" in html
        assert (await key_row(backend, key.id)).previous_key_hash is None
        # Both earlier secrets stop: the one just rotated out, and the one forgotten.
        await eventually(lambda: refused(gateway, new_secret))
        await eventually(lambda: refused(gateway, old_secret))
        # A revoked key cannot be rotated, and its page offers no forms.
        async with backend.engine.begin() as conn:
            await accounts.revoke_key(conn, key.id)
        status, html = await fetch(http, url + detail)
        assert status == 200 and 'id="rotate-form"' not in html and "revoked" in html
        status, _, html = await submit(http, url, KEYS, rotate, {"grace_s": "0"})
        assert status == 400 and f"key {key.id!r} is revoked" in html.replace("&#39;", "'")
    finally:
        await http.close()


async def test_a_key_page_in_a_browser_with_markup_in_its_name(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        key, _ = await accounts.create_key(conn, person.email, name=MARKUP, models=["gpt-4o-mini"])
    async with browsing_as(browser, gateway.url, person.email, locale="en-US") as seen:
        page = seen.page
        await page.click(".cookie-banner button[value=no]")
        await page.goto(gateway.url + KEYS)
        await page.click("#keys-table a.key-link")
        assert page.url == f"{gateway.url}{KEYS}/{key.id}"
        assert await page.locator("#key-title").text_content() == MARKUP
        assert await page.locator("img[src=x]").count() == 0
        await screenshot(page, "key-detail")

        await page.fill("#allowed-ips", "198.51.100.0/24, 127.0.0.1")
        await page.click("#allowed-ips-form button[type=submit]")
        assert page.url == f"{gateway.url}{KEYS}/{key.id}#addresses"
        assert await page.locator("#allowed-ips").input_value() == "198.51.100.0/24, 127.0.0.1/32"

        await page.select_option("#grace", "86400")
        await page.click("#rotate-form button[type=submit]")
        secret = (await page.locator("#key-secret").text_content() or "").strip()
        assert secret.startswith("sk-")
        assert await page.locator("button[data-copy]").is_visible()
        assert MARKUP in (await page.locator("dl.details").text_content() or "")
        await screenshot(page, "key-rotated")
        assert await page.locator("img[src=x]").count() == 0 and seen.dialogs == []
