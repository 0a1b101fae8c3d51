"""Site analytics: a page view is counted only after the visitor accepted analytics, never
with DNT or GPC, never for a bot, never for a signed-in person without their own consent;
what is stored is an aggregate with a normalized path and a referrer host, and no address,
person or cookie; the country only through a trusted proxy; page views are limited per
address; operators (only they) read the aggregates through the API and the command line;
retention forgets old days."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from sqlalchemy import insert

from aisonar.cli import main
from aisonar.clock import utcnow
from aisonar.config import Settings
from aisonar.store.tables import site_page_views
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.people import Api, make_operator, make_org
from tests.privacy.visitors import (
    GOOGLEBOT,
    SiteVisitor,
    loopback_address,
    person_with_password,
    unique_path,
    views_of,
)
from tests.support import Backend, cli_environment
from tests.test_no_content_stored import database_text


def counts(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str, str], int]:
    """(referrer, browser, device, country) -> views, of a path's rows."""
    return {
        (r["referrer_domain"], r["browser_family"], r["device_type"], r["country"]): r["views"]
        for r in rows
    }


async def aisonar(backend: Backend, *args: str) -> Any:
    result = await asyncio.to_thread(
        CliRunner().invoke, main, list(args), env=cli_environment(backend), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def test_a_view_is_counted_only_once_the_visitor_accepted(
    gateway: RunningGateway, backend: Backend
) -> None:
    path = unique_path()
    visitor = SiteVisitor(gateway.url, loopback_address())
    try:
        # Not chosen yet, then refused: nothing.
        assert await visitor.view(path) == 204
        assert await visitor.choose(False) == 200
        assert await visitor.view(path) == 204
        assert await views_of(backend.engine, path) == []

        assert await visitor.choose(True) == 200
        elsewhere = "https://News.Example.org:8443/item?id=3#c"
        assert await visitor.view(path + "/?tab=usage#top", elsewhere) == 204
        assert await visitor.view(path, "https://news.example.org/") == 204
        # From the site itself, or from nowhere: no referrer.
        assert await visitor.view(path, gateway.url + "/dashboard") == 204
        assert await visitor.view(path, "android-app://com.example") == 204
    finally:
        await visitor.close()
    assert counts(await views_of(backend.engine, path)) == {
        ("news.example.org", "Firefox", "desktop", ""): 2,
        ("", "Firefox", "desktop", ""): 2,
    }


async def test_do_not_track_global_privacy_control_and_bots_are_never_counted(
    gateway: RunningGateway, backend: Backend
) -> None:
    path = unique_path()
    address = loopback_address()
    visitor, bot = SiteVisitor(gateway.url, address), SiteVisitor(gateway.url, address, GOOGLEBOT)
    try:
        for each in (visitor, bot):
            assert await each.choose(True) == 200
        assert await visitor.view(path, headers={"DNT": "1"}) == 204
        assert await visitor.view(path, headers={"Sec-GPC": "1"}) == 204
        assert await bot.view(path) == 204
        assert await views_of(backend.engine, path) == []
        # The same visitor without either signal is counted.
        assert await visitor.view(path, headers={"DNT": "0"}) == 204
    finally:
        await visitor.close()
        await bot.close()
    assert counts(await views_of(backend.engine, path)) == {("", "Firefox", "desktop", ""): 1}


async def test_a_signed_in_person_is_counted_only_with_their_own_consent(
    gateway: RunningGateway, backend: Backend
) -> None:
    path = unique_path()
    _, email = await person_with_password(backend.engine)
    visitor = SiteVisitor(gateway.url, loopback_address())
    try:
        # The consent cookie from before signing in does not speak for the person (opt-in).
        assert await visitor.choose(True) == 200
        assert await visitor.sign_in(email) == 200
        assert await visitor.view(path) == 204
        assert await views_of(backend.engine, path) == []
        # Accepting the banner signed in records their consent, under the privacy policy.
        assert await visitor.choose(True) == 200
        _, consents = await visitor.call("GET", "/api/me/consents")
        assert consents["current"]["analytics"] is True
        assert await visitor.view(path) == 204
        assert sum(counts(await views_of(backend.engine, path)).values()) == 1
        # Withdrawn in their profile: no more, though the cookie still says analytics.
        withdrawn = await visitor.call("PUT", "/api/me/consents/analytics", {"granted": False})
        assert withdrawn[0] == 200
        assert await visitor.view(path) == 204
        assert sum(counts(await views_of(backend.engine, path)).values()) == 1
        # A signed-in choice without the session's CSRF token is refused.
        assert await visitor.choose(True, {"x-csrf-token": "forged"}) == 403
        _, consents = await visitor.call("GET", "/api/me/consents")
        assert consents["current"]["analytics"] is False
    finally:
        await visitor.close()


async def test_what_is_stored_has_no_address_and_a_normalized_path(
    gateway: RunningGateway, backend: Backend
) -> None:
    path = unique_path()
    address = loopback_address()
    visitor = SiteVisitor(gateway.url, address)
    try:
        assert await visitor.choose(True) == 200
        assert await visitor.view(f"{path}?secret=query-{address}#fragment") == 204
        # Not the console's pages, or not a path at all: refused, nothing counted.
        for bad in (
            "/api/me",
            "/v1/chat/completions",
            "https://elsewhere.example/page",
            "/a/../b",
            "/" + "x" * 250,
            "/<script>",
        ):
            status, body = await visitor.call("POST", "/api/site/pageview", {"path": bad})
            assert status == 400 and body["error"]["param"] == "path", bad
        status, _ = await visitor.call("POST", "/api/site/pageview", {"path": path, "user": "me"})
        assert status == 400
        cookie_values = [c.value for c in visitor.cookies_set]
    finally:
        await visitor.close()
    [row] = await views_of(backend.engine, path)
    assert row["path"] == path and row["views"] == 1
    assert set(row) == {
        "day",
        "path",
        "referrer_domain",
        "browser_family",
        "device_type",
        "country",
        "views",
    }
    assert row["day"] == utcnow().date()
    # The visitor's address is nowhere in the database files, nor the query it sent.
    stored = await database_text(backend)
    assert address.encode() not in stored
    assert b"query-" + address.encode() not in stored
    assert all(value.encode() not in stored for value in cookie_values if len(value) > 20)


async def test_the_country_comes_only_from_a_trusted_proxy_and_views_are_limited(
    backend: Backend,
) -> None:
    settings = backend.settings.model_copy(
        update={"country_header": "CF-IPCountry", "site_pageviews_per_ip_per_minute": 3}
    )
    path = unique_path()
    async with running_gateway(settings) as gateway:
        # The proxy on 127.0.0.1 (trusted by default) forwards two visitors.
        proxy = SiteVisitor(gateway.url, "127.0.0.1")
        direct = SiteVisitor(gateway.url, loopback_address())
        try:
            for each in (proxy, direct):
                assert await each.choose(True) == 200
            german = {"X-Forwarded-For": "198.51.100.23", "CF-IPCountry": "de"}
            assert await proxy.view(path, headers=german) == 204
            # Straight from a visitor, the header is the visitor's own say: ignored.
            assert await direct.view(path, headers={"CF-IPCountry": "FR"}) == 204
            assert counts(await views_of(backend.engine, path)) == {
                ("", "Firefox", "desktop", "DE"): 1,
                ("", "Firefox", "desktop", ""): 1,
            }

            # Three a minute per visitor's address; the next is refused and not counted.
            for _ in range(2):
                assert await proxy.view(path, headers=german) == 204
            status, body = await proxy.call("POST", "/api/site/pageview", {"path": path}, german)
            assert status == 429 and body["error"]["code"] == "too_many_page_views"
            # Another visitor behind the same proxy has a limit of their own.
            other = {"X-Forwarded-For": "198.51.100.24", "CF-IPCountry": "DE"}
            assert await proxy.view(path, headers=other) == 204
        finally:
            await proxy.close()
            await direct.close()
    assert counts(await views_of(backend.engine, path)) == {
        ("", "Firefox", "desktop", "DE"): 4,
        ("", "Firefox", "desktop", ""): 1,
    }


async def test_operators_read_the_aggregates_and_no_one_else_may(
    gateway: RunningGateway, backend: Backend
) -> None:
    path = unique_path()
    visitor = SiteVisitor(gateway.url, loopback_address())
    try:
        assert await visitor.choose(True) == 200
        for _ in range(3):
            assert await visitor.view(path, "https://search.example.com/?q=sonar") == 204
    finally:
        await visitor.close()
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    today = utcnow().date().isoformat()

    by_path = await operator.get(f"/api/site-analytics?by=path&since={today}&limit=1000")
    assert by_path.status == 200
    assert {"key": path, "views": 3} in by_path.body
    by_referrer = (await operator.get("/api/site-analytics?by=referrer&limit=1000")).body
    assert any(r["key"] == "search.example.com" and r["views"] >= 3 for r in by_referrer)
    by_day = (await operator.get(f"/api/site-analytics?by=day&until={today}")).body
    assert by_day[-1]["key"] == today and by_day[-1]["views"] >= 3
    views = [row["views"] for row in by_referrer]
    assert views == sorted(views, reverse=True)
    for bad in ("by=ip", f"since={today}&until=2000-01-01", "since=yesterday", "limit=0"):
        refused = await operator.get(f"/api/site-analytics?{bad}")
        assert refused.status == 400, bad

    printed = await aisonar(
        backend, "site-analytics", "--since", today, "--limit", "1000", "--json"
    )
    assert {"key": path, "views": 3} in printed
    devices = await aisonar(backend, "site-analytics", "--by", "device", "--json")
    assert all(row["key"] != "bot" for row in devices)

    org = await make_org(backend.engine)
    for person in (org.admin, org.member):
        refused = await Api(gateway.url, person.token).get("/api/site-analytics")
        assert refused.status == 403, person.email
        assert refused.body["error"]["type"] == "permission_error"
    assert (await Api(gateway.url, None).get("/api/site-analytics")).status == 401


async def test_retention_forgets_days_past_the_rollups_window(
    gateway: RunningGateway, backend: Backend
) -> None:
    path = unique_path()
    today = utcnow().date()
    window = backend.settings.rollup_retention_days
    async with backend.engine.begin() as conn:
        for day in (today - timedelta(days=window + 1), today - timedelta(days=window - 1)):
            await conn.execute(
                insert(site_page_views).values(
                    day=day,
                    path=path,
                    referrer_domain="",
                    browser_family="Firefox",
                    device_type="desktop",
                    country="",
                    views=5,
                )
            )
    report = await aisonar(backend, "retention", "run", "--json")
    assert report["site_views_deleted"] >= 1
    [kept] = await views_of(backend.engine, path)
    assert kept["day"] == today - timedelta(days=window - 1)


def test_proxies_and_page_prefixes_are_checked_when_settings_load() -> None:
    for bad in (
        {"trusted_proxies": "10.0.0.0/8, proxy.example"},
        {"trusted_proxies": "10.0.0.300"},
        {"site_analytics_paths": "console"},
        {"site_analytics_paths": " , "},
    ):
        with pytest.raises(ValidationError):
            Settings(**bad)  # type: ignore[arg-type]
    good = Settings(trusted_proxies="10.0.0.0/8, 192.0.2.7, ::1", site_analytics_paths="/app,/")
    assert good.trusted_proxies and good.site_analytics_paths
