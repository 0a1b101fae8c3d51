"""Sign-in throttling that cannot be turned against a person: failures count per account
and address (tight), per address across accounts, and per account from everywhere, a
ceiling that refuses only the addresses that failed on the account. Each client calls
over real HTTP from an address of its own on loopback, or names it in X-Forwarded-For
through the trusted proxy (127.0.0.1)."""

from __future__ import annotations

import os
import secrets

import aiohttp
import pytest

from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.deletions import FromAddress
from tests.api.test_reauthentication import loopback
from tests.api.test_sessions import PASSWORD, member_with_password
from tests.support import Backend

REDIS_URL = os.environ.get("AISONAR_TEST_REDIS_URL")
WRONG = "Wrong-Password-123"


async def sign_in_from(url: str, ip: str, email: str, password: str = PASSWORD) -> int:
    client = FromAddress(url, ip)
    try:
        return await client.sign_in(email, password)
    finally:
        await client.close()


async def sign_in_through_proxy(url: str, client_ip: str, email: str, password: str) -> int:
    """Through the trusted proxy on 127.0.0.1, which names the client it forwards."""
    proxy = FromAddress(url, "127.0.0.1")
    try:
        body = {"email": email, "password": password}
        status, _ = await proxy.call("POST", "/api/session", body, {"X-Forwarded-For": client_ip})
        return status
    finally:
        await proxy.close()


async def console_sign_in_from(url: str, ip: str, email: str, password: str) -> int:
    """The console's sign-in form, posted from `ip`."""
    connector = aiohttp.TCPConnector(local_addr=(ip, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        form = {"email": email, "password": password, "next": "/console"}
        async with http.post(url + "/console/sign-in", data=form, allow_redirects=False) as answer:
            return answer.status


async def test_wrong_passwords_from_five_addresses_do_not_lock_out_a_sixth(
    gateway: RunningGateway, backend: Backend
) -> None:
    email = await member_with_password(backend)
    for _ in range(5):
        assert await sign_in_from(gateway.url, loopback(), email, WRONG) == 401
    assert await sign_in_from(gateway.url, loopback(), email) == 200


async def test_the_console_form_is_not_locked_out_from_elsewhere_either(
    gateway: RunningGateway, backend: Backend
) -> None:
    email = await member_with_password(backend)
    for _ in range(5):
        assert await console_sign_in_from(gateway.url, loopback(), email, WRONG) == 401
    assert await console_sign_in_from(gateway.url, loopback(), email, PASSWORD) == 303


async def test_the_account_ceiling_refuses_only_the_addresses_that_failed(
    backend: Backend,
) -> None:
    # A day's window: no failure is forgotten while the test runs, however slowly.
    settings = backend.settings.model_copy(
        update={"signin_failures_per_account": 3, "signin_failure_window_s": 86400.0}
    )
    email = await member_with_password(backend)
    guessers = [f"198.51.100.{n}" for n in range(1, 6)]
    async with running_gateway(settings) as gateway:
        # Past the ceiling of three, an address that has not failed still gets its guess
        # checked (and fails): the ceiling refuses nobody who did not fail.
        for guesser in guessers:
            assert await sign_in_through_proxy(gateway.url, guesser, email, WRONG) == 401
        # Every address that failed is refused now, even with the right password.
        for guesser in guessers:
            assert await sign_in_through_proxy(gateway.url, guesser, email, PASSWORD) == 429
        assert await sign_in_through_proxy(gateway.url, "203.0.113.9", email, PASSWORD) == 200


async def test_guessing_from_one_address_is_throttled_and_forged_addresses_do_not_help(
    gateway: RunningGateway, backend: Backend
) -> None:
    email = await member_with_password(backend)
    guesser = FromAddress(gateway.url, loopback())
    try:
        # Not from the trusted proxy: X-Forwarded-For is not believed.
        for n in range(5):
            forged = {"X-Forwarded-For": f"192.0.2.{n + 1}"}
            status, _ = await guesser.call(
                "POST", "/api/session", {"email": email, "password": WRONG}, forged
            )
            assert status == 401
        status, body = await guesser.call(
            "POST", "/api/session", {"email": email, "password": PASSWORD}
        )
        assert status == 429 and body["error"]["code"] == "too_many_sign_in_attempts"
    finally:
        await guesser.close()
    assert await sign_in_from(gateway.url, loopback(), email) == 200


async def test_trying_many_accounts_from_one_address_is_throttled(backend: Backend) -> None:
    # A day's window: no failure is forgotten while the test runs, however slowly.
    settings = backend.settings.model_copy(
        update={"signin_failures_per_ip": 3, "signin_failure_window_s": 86400.0}
    )
    sprayer = loopback()
    async with running_gateway(settings) as gateway:
        for _ in range(3):
            victim = await member_with_password(backend)
            assert await sign_in_from(gateway.url, sprayer, victim, WRONG) == 401
        email = await member_with_password(backend)
        assert await sign_in_from(gateway.url, sprayer, email) == 429
        assert await sign_in_from(gateway.url, loopback(), email) == 200


@pytest.mark.skipif(not REDIS_URL, reason="AISONAR_TEST_REDIS_URL is not set")
async def test_servers_sharing_redis_count_failures_together(backend: Backend) -> None:
    settings = backend.settings.model_copy(
        update={"redis_url": REDIS_URL, "signin_failures_per_account_ip": 2}
    )
    email = await member_with_password(backend)
    guesser = f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
    async with running_gateway(settings) as first, running_gateway(settings) as second:
        assert await sign_in_through_proxy(first.url, guesser, email, WRONG) == 401
        assert await sign_in_through_proxy(second.url, guesser, email, WRONG) == 401
        assert await sign_in_through_proxy(first.url, guesser, email, PASSWORD) == 429
        assert await sign_in_through_proxy(second.url, guesser, email, PASSWORD) == 429
        assert await sign_in_through_proxy(second.url, loopback(), email, PASSWORD) == 200
