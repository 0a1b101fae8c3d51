"""Cookies: before the visitor consents, the server sets only the strictly necessary
cookies declared in `aisonar/privacy/cookies.py`; the banner's choice, accept or refuse
alike, is kept in the consent cookie (six months, SameSite=Lax, readable by the page,
Secure over TLS); Do Not Track and Global Privacy Control are reported; other sites
cannot make the choice."""

from __future__ import annotations

from aisonar.accounts.sessions import COOKIE_NAME as SESSION_COOKIE
from aisonar.privacy.cookies import (
    CONSENT_COOKIE,
    CONSENT_MAX_AGE_S,
    COOKIES,
    DECLARED_NAMES,
    CookieCategory,
)
from aisonar.testing.gateway_server import RunningGateway
from tests.privacy.visitors import (
    SiteVisitor,
    loopback_address,
    person_with_password,
    unique_path,
)
from tests.support import Backend


async def test_without_consent_only_declared_necessary_cookies_are_set(
    gateway: RunningGateway, backend: Backend
) -> None:
    _, email = await person_with_password(backend.engine)
    visitor = SiteVisitor(gateway.url, loopback_address())
    try:
        # A visit that has not chosen yet: the banner, sign-in, a few calls, a page view.
        assert (await visitor.call("GET", "/api/cookie-consent"))[0] == 200
        assert await visitor.sign_in(email) == 200
        for path in ("/api/session", "/api/me", "/api/me/keys", "/api/me/consents"):
            assert (await visitor.call("GET", path))[0] == 200, path
        assert (await visitor.call("PATCH", "/api/me", {"name": "Visitor"}))[0] == 200
        assert await visitor.view(unique_path()) == 204
        # Refusing, and signing out.
        assert await visitor.choose(False) == 200
        assert await visitor.view(unique_path()) == 204
        assert (await visitor.call("DELETE", "/api/session"))[0] == 204
    finally:
        await visitor.close()
    names = {cookie.key for cookie in visitor.cookies_set}
    # The walk saw the cookies it is about, so the check below is not vacuous.
    assert {SESSION_COOKIE, CONSENT_COOKIE} <= names
    assert names <= DECLARED_NAMES, f"undeclared cookies {names - DECLARED_NAMES}"
    assert all(cookie.category is CookieCategory.NECESSARY for cookie in COOKIES)
    consent_values = {c.value for c in visitor.cookies_set if c.key == CONSENT_COOKIE}
    assert consent_values == {"necessary"}


async def test_the_choice_is_kept_in_the_consent_cookie_accept_and_refuse_alike(
    gateway: RunningGateway,
) -> None:
    visitor = SiteVisitor(gateway.url, loopback_address())
    try:
        status, before = await visitor.call("GET", "/api/cookie-consent")
        assert status == 200 and before["choice"] is None and before["analytics"] is False

        for analytics, value in ((True, "analytics"), (False, "necessary")):
            status, chosen = await visitor.call(
                "POST", "/api/cookie-consent", {"analytics": analytics}
            )
            assert status == 200 and chosen["choice"] == value
            cookie = visitor.cookies_set[-1]
            assert (cookie.key, cookie.value) == (CONSENT_COOKIE, value)
            assert int(cookie["max-age"]) == CONSENT_MAX_AGE_S >= 180 * 24 * 3600
            assert cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
            # The console's script reads it; plain HTTP here, so not Secure.
            assert not cookie["httponly"] and not cookie["secure"]
            status, now = await visitor.call("GET", "/api/cookie-consent")
            assert now["choice"] == value and now["analytics"] is analytics

        # Only a trusted proxy (AISONAR_TRUSTED_PROXIES: 127.0.0.1 here) says it is TLS.
        assert await visitor.choose(True, {"X-Forwarded-Proto": "https"}) == 200
        assert not visitor.cookies_set[-1]["secure"]
    finally:
        await visitor.close()
    proxy = SiteVisitor(gateway.url, "127.0.0.1")
    try:
        # Served over TLS behind the trusted proxy: Secure, like the session cookie.
        assert await proxy.choose(True, {"X-Forwarded-Proto": "https"}) == 200
        assert proxy.cookies_set[-1]["secure"]
    finally:
        await proxy.close()


async def test_do_not_track_and_global_privacy_control_are_reported(
    gateway: RunningGateway,
) -> None:
    visitor = SiteVisitor(gateway.url, loopback_address())
    try:
        assert await visitor.choose(True) == 200
        for headers, dnt, gpc in (
            ({"DNT": "1"}, True, False),
            ({"Sec-GPC": "1"}, False, True),
            ({"DNT": "0"}, False, False),
        ):
            status, state = await visitor.call("GET", "/api/cookie-consent", headers=headers)
            assert status == 200
            assert (state["do_not_track"], state["global_privacy_control"]) == (dnt, gpc)
            # Accepted, but either signal means no analytics.
            assert state["choice"] == "analytics"
            assert state["analytics"] is not (dnt or gpc)
    finally:
        await visitor.close()


async def test_other_sites_and_bad_input_cannot_set_the_choice(gateway: RunningGateway) -> None:
    visitor = SiteVisitor(gateway.url, loopback_address())
    try:
        for headers in (
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
            {"Origin": "https://elsewhere.example"},
            {"Origin": "null"},
        ):
            status, body = await visitor.call(
                "POST", "/api/cookie-consent", {"analytics": True}, headers
            )
            assert status == 403 and body["error"]["type"] == "permission_error", headers
        for bad in ({"analytics": "yes"}, {}, {"analytics": True, "marketing": True}):
            status, body = await visitor.call("POST", "/api/cookie-consent", bad)
            assert status == 400 and body["error"]["type"] == "invalid_request_error", bad
        assert visitor.cookies_set == []
        # The console's own pages may.
        for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": gateway.url}):
            assert await visitor.choose(True, headers) == 200, headers
        assert [c.value for c in visitor.cookies_set] == ["analytics", "analytics"]
    finally:
        await visitor.close()
