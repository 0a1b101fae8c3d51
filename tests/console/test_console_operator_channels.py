"""The operators' channels page: over plain HTTP a channel is added, changed (an empty key
keeps the sealed one, a new key replaces it), turned off and on, each as `/api/channels`
does and audited; bad input changes nothing and keeps what was typed; no upstream key
ever appears in a page; others are refused. In Chromium the Test button runs the
one-token test against the fake upstream and shows its answer, and with a fault injected
the upstream's error; a channel named with markup stays text."""

from __future__ import annotations

import re
import secrets
from typing import Any

from playwright.async_api import Browser

from aisonar.channels import services as channels
from aisonar.crypto import SecretBox
from aisonar.store.roles import Role
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY, WRONG_UPSTREAM_KEY
from tests.console.forms import fetch, http_session, post
from tests.console.operators import audited
from tests.console.people import (
    MARKUP,
    browsing_as,
    console_person,
    csrf_token_in,
    screenshot,
    sign_in_over_http,
)
from tests.support import Backend

CHANNELS = "/console/operator/channels"
BOX = SecretBox(TEST_SECRET_KEY)


async def channel_named(backend: Backend, name: str) -> Any:
    async with backend.engine.connect() as conn:
        return await channels.get_channel(conn, BOX, name)


async def test_an_operator_adds_changes_and_turns_off_a_channel(
    gateway: RunningGateway, backend: Backend, fake_upstream: FakeUpstream
) -> None:
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    name = f"console-{secrets.token_hex(3)}"
    first_key, second_key = "sk-first-" + secrets.token_hex(8), "sk-second-" + secrets.token_hex(8)
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, operator.email)
        status, html = await fetch(http, gateway.url + CHANNELS)
        assert status == 200 and 'id="channels-table"' in html
        token = csrf_token_in(html)
        fields = {
            "name": name,
            "provider": "openai",
            "base_url": fake_upstream.url,
            "api_key": first_key,
            "models": f"{name}-model=gpt-4o-mini, {name}-other",
            "priority": "3",
            "weight": "2",
        }

        # Bad input: nothing is created, the form keeps what was typed (not the key).
        for wrong, param in (
            ({"models": ""}, "models"),
            ({"base_url": "ftp://nowhere"}, "base_url"),
            ({"weight": "-1"}, "weight"),
            ({"priority": "many"}, "priority"),
            ({"provider": "nobody"}, "provider"),
        ):
            status, _, page = await post(http, gateway.url + CHANNELS, token, fields | wrong)
            assert status == 400, (param, page)
            assert 'class="error"' in page and f'value="{name}"' in page
            assert first_key not in page
        async with backend.engine.connect() as conn:
            assert name not in [c.name for c in await channels.list_channels(conn)]

        status, location, _ = await post(http, gateway.url + CHANNELS, token, fields)
        assert (status, location) == (303, CHANNELS)
        created = await channel_named(backend, name)
        assert created.api_key == first_key
        assert created.channel.models == {
            f"{name}-model": "gpt-4o-mini",
            f"{name}-other": f"{name}-other",
        }
        assert (created.channel.priority, created.channel.weight) == (3, 2)
        assert len(await audited(backend, "channel.create", created.channel.id)) == 1
        # The same name again is the API's conflict.
        status, _, page = await post(http, gateway.url + CHANNELS, token, fields)
        assert status == 409 and "already exists" in page

        # Its page: every field but the key, which is never shown.
        edit = f"{CHANNELS}/{created.channel.id}"
        status, html = await fetch(http, gateway.url + edit)
        assert status == 200 and f'value="{fake_upstream.url}"' in html
        assert first_key not in html and 'type="password"' in html
        change = {
            "base_url": fake_upstream.url,
            "models": f"{name}-model=gpt-4o",
            "priority": "5",
            "weight": "1",
            "timeout_connect_s": "",
            "timeout_first_byte_s": "",
            "timeout_total_s": "7.5",
            "api_key": "",
        }
        status, location, _ = await post(http, gateway.url + edit, token, change)
        assert (status, location) == (303, CHANNELS)
        changed = await channel_named(backend, name)
        assert changed.api_key == first_key, "an empty key keeps the channel's"
        assert changed.channel.models == {f"{name}-model": "gpt-4o"}
        assert changed.channel.priority == 5 and changed.channel.timeouts.total_s == 7.5
        entry = (await audited(backend, "channel.update", created.channel.id))[-1]
        assert "api_key_changed" not in entry.changes and entry.changes["priority"] == [3, 5]

        status, _, page = await post(
            http, gateway.url + edit, token, change | {"api_key": second_key}
        )
        assert status == 303
        assert (await channel_named(backend, name)).api_key == second_key
        entry = (await audited(backend, "channel.update", created.channel.id))[-1]
        assert entry.changes["api_key_changed"] == [None, True]
        assert second_key not in str(entry.changes)

        # A bad change changes nothing and keeps what was typed.
        status, _, page = await post(
            http, gateway.url + edit, token, change | {"timeout_total_s": "-2", "priority": "9"}
        )
        assert status == 400 and 'value="9"' in page and 'class="error"' in page
        assert (await channel_named(backend, name)).channel.priority == 5

        # Off, then on again.
        status, location, _ = await post(
            http, gateway.url + edit + "/enabled", token, {"enabled": "no"}
        )
        assert (status, location) == (303, CHANNELS)
        assert not (await channel_named(backend, name)).channel.enabled
        status, html = await fetch(http, gateway.url + CHANNELS)
        assert "turned off" in html
        # On again from the channel's own page, which answers with itself.
        status, html = await fetch(http, gateway.url + edit)
        assert "It is turned off" in html and 'id="channel-switch"' in html
        assert '<input type="hidden" name="enabled" value="yes">' in html
        status, location, _ = await post(
            http, gateway.url + edit + "/enabled", token, {"enabled": "yes", "back": "channel"}
        )
        assert (status, location) == (303, edit)
        assert (await channel_named(backend, name)).channel.enabled
        status, html = await fetch(http, gateway.url + edit)
        assert "It is in rotation." in html
        assert '<input type="hidden" name="enabled" value="no">' in html

        # No page shows any upstream key.
        for path in (CHANNELS, edit):
            status, html = await fetch(http, gateway.url + path)
            assert status == 200
            for secret in (first_key, second_key, UPSTREAM_KEY, WRONG_UPSTREAM_KEY):
                assert secret not in html


async def test_a_test_over_http_shows_the_answer_and_never_the_key(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    async with backend.engine.connect() as conn:
        by_name = {c.name: c for c in await channels.list_channels(conn)}
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, operator.email)
        status, html = await fetch(http, gateway.url + CHANNELS)
        token = csrf_token_in(html)
        test = f"{CHANNELS}/{by_name['fake'].id}/test"
        status, _, page = await post(http, gateway.url + test, token, {"model": "smart"})
        assert status == 200 and 'id="channel-test-result"' in page
        assert "It answered." in page and "gpt-4o" in page
        status, _, page = await post(
            http, gateway.url + f"{CHANNELS}/{by_name['wrong-key'].id}/test", token, {}
        )
        assert status == 200 and "It failed." in page and "401" in page
        assert WRONG_UPSTREAM_KEY not in page and UPSTREAM_KEY not in page
        # A model the channel does not serve: the API's 400, shown on the page.
        status, _, page = await post(http, gateway.url + test, token, {"model": "nowhere"})
        assert status == 400 and 'id="test-refused"' in page
        status, _, page = await post(http, gateway.url + f"{CHANNELS}/chn_none/test", token, {})
        assert status == 404

        # A channel this server's breaker took out shows how long it cools down.
        health = gateway.app.runtime.services.channels.health
        health.record_failure(by_name["unreachable"].id, "test", retry_after_s=60)
        status, html = await fetch(http, gateway.url + CHANNELS)
        row = html[html.index(f'data-channel="{by_name["unreachable"].id}"') :]
        row = row[: row.index("</tr>")]
        assert "cooling down" in row
        seconds = re.search(r"(\d+) s of cooldown left", row)
        assert seconds is not None and 50 <= int(seconds.group(1)) <= 60


async def test_others_are_refused_and_change_nothing(
    gateway: RunningGateway, backend: Backend
) -> None:
    async with backend.engine.connect() as conn:
        fake = next(c for c in await channels.list_channels(conn) if c.name == "fake")
    for role in (Role.USER, Role.ORG_ADMIN):
        person = await console_person(backend.engine, role=role)
        async with http_session() as http:
            await sign_in_over_http(http, gateway.url, person.email)
            status, html = await fetch(http, gateway.url + "/console")
            assert CHANNELS not in html
            token = csrf_token_in(html)
            for path in (CHANNELS, f"{CHANNELS}/{fake.id}"):
                status, page = await fetch(http, gateway.url + path)
                assert status == 403, (role, path)
                assert "fake.example" not in page and "sk-" not in page
            for path, fields in (
                (CHANNELS, {"name": "stolen", "provider": "openai", "api_key": "x", "models": "m"}),
                (f"{CHANNELS}/{fake.id}/enabled", {"enabled": "no"}),
                (f"{CHANNELS}/{fake.id}", {"base_url": "http://evil.example", "models": "m"}),
                (f"{CHANNELS}/{fake.id}/test", {}),
            ):
                status, _, _ = await post(http, gateway.url + path, token, fields)
                assert status == 403, (role, path)
    after = await channel_named(backend, "fake")
    assert after.channel.enabled and after.channel.base_url == fake.base_url
    async with backend.engine.connect() as conn:
        assert "stolen" not in [c.name for c in await channels.list_channels(conn)]


async def test_the_test_button_shows_success_then_the_injected_fault(
    browser: Browser, gateway: RunningGateway, backend: Backend, fake_upstream: FakeUpstream
) -> None:
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    # A channel named with markup, on the fake upstream.
    async with backend.engine.begin() as conn:
        marked = await channels.create_channel(
            conn,
            BOX,
            name=MARKUP + secrets.token_hex(3),
            provider="openai",
            base_url=fake_upstream.url,
            api_key=UPSTREAM_KEY,
            models="marked-model=gpt-4o-mini",
        )
    async with browsing_as(browser, gateway.url, operator.email, locale="en-US") as seen:
        page = seen.page
        await page.click(f"nav.main-nav a[href='{CHANNELS}']")
        await page.wait_for_url(gateway.url + CHANNELS)
        row = page.locator(f"tr[data-channel='{marked.id}']")
        assert MARKUP in await row.locator("td").first.inner_text()
        assert await page.locator("img[src=x]").count() == 0
        await screenshot(page, "operator-channels")

        await row.locator("button.test-channel").click()
        await page.wait_for_selector("#channel-test-result")
        assert await page.inner_text("#test-outcome") == "It answered."
        assert await page.inner_text("#test-status") == "200"
        assert (await page.inner_text("#test-latency")).endswith("ms")
        assert MARKUP in await page.inner_text("#test-heading")
        await screenshot(page, "operator-channels-test")

        fake_upstream.fail_next("500")
        try:
            await page.locator(f"tr[data-channel='{marked.id}'] button.test-channel").click()
            await page.wait_for_selector("#test-error")
        finally:
            fake_upstream.clear_faults()
        assert await page.inner_text("#test-outcome") == "It failed."
        assert await page.inner_text("#test-status") == "500"
        assert "HTTP 500" in await page.inner_text("#test-error")

        await page.click(f"tr[data-channel='{marked.id}'] a")
        await page.wait_for_url(f"{gateway.url}{CHANNELS}/{marked.id}")
        assert await page.input_value("#channel-key") == ""
        await screenshot(page, "operator-channel-edit")
        html = await page.content()
        assert UPSTREAM_KEY not in html
        assert await page.locator("img[src=x]").count() == 0
