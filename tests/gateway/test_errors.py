"""Bad input gets a clear error in OpenAI's format and changes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import openai
import pytest

from aisonar.accounts import services as accounts
from aisonar.clock import utcnow
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import UPSTREAM_KEY, WRONG_UPSTREAM_KEY
from tests.support import Backend, Tenant, make_tenant, usage_count, wait_for_usage

HELLO = [{"role": "user", "content": "hello"}]


def client(gateway: RunningGateway, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)


async def post_raw(
    gateway: RunningGateway, secret: str, body: bytes
) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            gateway.url + "/v1/chat/completions",
            data=body,
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        ) as response,
    ):
        return response.status, await response.json()


async def test_unknown_key_is_401(gateway: RunningGateway) -> None:
    async with client(gateway, "sk-sonar-not-a-real-key") as c:
        with pytest.raises(openai.AuthenticationError) as caught:
            await c.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"


async def test_missing_key_is_401(gateway: RunningGateway) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(gateway.url + "/v1/models") as response,
    ):
        assert response.status == 401
        assert (await response.json())["error"]["type"] == "authentication_error"


async def test_expired_key_is_401(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    expires_at = utcnow() + timedelta(seconds=1)
    async with backend.engine.begin() as conn:
        _, secret = await accounts.create_key(conn, tenant.email, expires_at=expires_at)
    async with client(gateway, secret) as c:
        assert [model.id async for model in c.models.list()]
        await asyncio.sleep((expires_at - utcnow()).total_seconds() + 0.05)
        with pytest.raises(openai.AuthenticationError, match="expired"):
            await c.models.list()


async def test_model_outside_the_keys_list_is_403(
    gateway: RunningGateway, backend: Backend
) -> None:
    restricted = await make_tenant(backend.engine, models=["gpt-4o-mini"])
    async with client(gateway, restricted.secret) as c:
        with pytest.raises(openai.PermissionDeniedError):
            await c.chat.completions.create(model="gpt-4o", messages=HELLO)  # type: ignore[arg-type]
        models = [model.id async for model in c.models.list()]
    assert models == ["gpt-4o-mini"]


async def test_unknown_model_is_404(gateway: RunningGateway, tenant: Tenant) -> None:
    async with client(gateway, tenant.secret) as c:
        with pytest.raises(openai.NotFoundError) as caught:
            await c.chat.completions.create(model="no-such-model", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.code == "model_not_found"


async def test_malformed_json_is_400(gateway: RunningGateway, tenant: Tenant) -> None:
    status, body = await post_raw(gateway, tenant.secret, b'{"model": "gpt-4o-mini", "messa')
    assert status == 400
    assert "not valid JSON" in body["error"]["message"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"model": 42, "messages": []}', "model"),
        (b'{"model": "gpt-4o-mini", "messages": "hi"}', "messages"),
        (b'{"model": "gpt-4o-mini", "messages": [], "stream": "yes"}', "stream"),
        (b'{"model": "gpt-4o-mini", "messages": [], "max_tokens": "ten"}', "max_tokens"),
        (b'{"messages": []}', "model"),
    ],
)
async def test_wrong_field_types_are_400_naming_the_field(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, body: bytes, field: str
) -> None:
    status, answer = await post_raw(gateway, tenant.secret, body)
    assert status == 400
    assert answer["error"]["param"] == field  # type: ignore[index]


async def test_body_over_the_limit_is_413(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    huge = "x" * (backend.settings.max_body_bytes + 1)
    async with client(gateway, tenant.secret) as c:
        with pytest.raises(openai.APIStatusError) as caught:
            await c.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": huge}]
            )
    assert caught.value.status_code == 413


async def test_unreachable_upstream_is_502(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with client(gateway, tenant.secret) as c:
        with pytest.raises(openai.APIStatusError) as caught:
            await c.chat.completions.create(model="dead-model", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.status_code == 502
    await wait_for_usage(backend.engine, tenant.org_id, 1)


async def test_upstream_timeout_is_504(gateway: RunningGateway, tenant: Tenant) -> None:
    async with client(gateway, tenant.secret) as c:
        with pytest.raises(openai.APIStatusError) as caught:
            await c.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "[[fault:timeout]]"}]
            )
    assert caught.value.status_code == 504


async def test_upstream_errors_are_passed_on_in_our_format(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    async with client(gateway, tenant.secret) as c:
        with pytest.raises(openai.InternalServerError) as failed:
            await c.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "[[fault:500]]"}]
            )
        # Last: a Retry-After takes the channel out of rotation for that long.
        with pytest.raises(openai.RateLimitError) as limited:
            await c.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "[[fault:429]]"}]
            )
    assert limited.value.response.headers.get("retry-after") == "1"
    # The upstream's own failure is, to the client, a bad gateway; its message is kept.
    assert failed.value.status_code == 502
    assert "error while processing your request" in failed.value.message


async def test_upstream_key_never_appears_in_an_error(
    gateway: RunningGateway, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    async with client(gateway, tenant.secret) as c:
        with pytest.raises(openai.APIStatusError) as caught:
            await c.chat.completions.create(model="wrong-key-model", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.status_code == 502
    text = caught.value.response.text
    assert WRONG_UPSTREAM_KEY not in text and UPSTREAM_KEY not in text


async def test_failed_requests_are_metered_and_auth_failures_are_not(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with client(gateway, tenant.secret) as c:
        with pytest.raises(openai.NotFoundError):
            await c.chat.completions.create(model="no-such-model", messages=HELLO)  # type: ignore[arg-type]
    await wait_for_usage(backend.engine, tenant.org_id, 1)
    assert await usage_count(backend.engine, tenant.org_id) == 1


async def test_unknown_path_and_wrong_method(gateway: RunningGateway, tenant: Tenant) -> None:
    headers = {"Authorization": f"Bearer {tenant.secret}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(gateway.url + "/v1/nothing-here") as response:
            assert response.status == 404
            assert (await response.json())["error"]["code"] == "unknown_url"
        async with session.get(gateway.url + "/v1/chat/completions") as response:
            assert response.status == 405
