"""Key rotation with a grace period, and address allowlists, end to end: the official
openai SDK against the gateway, the keys managed through the API and the command line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import openai
import pytest
from click.testing import CliRunner

from aisonar.accounts.models import KeyIdentity
from aisonar.accounts.networks import parsed_networks
from aisonar.cli import main
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_org
from tests.support import Backend, cli_environment


def sdk(gateway: RunningGateway, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)


async def works(gateway: RunningGateway, secret: str) -> bool:
    async with sdk(gateway, secret) as client:
        try:
            await client.models.list()
        except (openai.AuthenticationError, openai.PermissionDeniedError):
            return False
    return True


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Changes reach the gateway's key cache within a poll."""
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.02)
    pytest.fail("the change never took effect")


async def test_a_rotated_key_has_a_new_secret_and_the_old_one_works_for_the_grace(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.member.token)
    old = org.member.key_secret
    assert await works(gateway, old)
    rotated = await api.post(f"/api/keys/{org.member.key_id}/rotate", {"grace_s": 2})
    assert rotated.status == 200 and rotated.body["previous_valid_until"] is not None
    new = rotated.body["secret"]
    assert new != old and rotated.body["display_prefix"] == new[: len("sk-sonar-") + 6]
    await eventually(lambda: works(gateway, new))
    assert await works(gateway, old)
    await asyncio.sleep(2.1)
    async with sdk(gateway, old) as client:
        with pytest.raises(openai.AuthenticationError, match="rotated"):
            await client.models.list()
    assert await works(gateway, new)


async def test_a_rotation_without_grace_retires_the_old_secret_at_once(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    assert await works(gateway, org.member.key_secret)
    rotated = await Api(gateway.url, org.admin.token).post(
        f"/api/keys/{org.member.key_id}/rotate", {"grace_s": 0}
    )
    await eventually(lambda: works(gateway, rotated.body["secret"]))

    async def old_refused() -> bool:
        return not await works(gateway, org.member.key_secret)

    await eventually(old_refused)


async def test_an_allowlisted_key_is_refused_from_elsewhere_in_the_clients_format(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.member.token)
    path = f"/api/keys/{org.member.key_id}/allowed-ips"
    fenced = await api.call("PUT", path, {"allowed_ips": ["10.0.0.0/8", "2001:db8::1"]})
    assert fenced.body["allowed_ips"] == ["10.0.0.0/8", "2001:db8::1/128"]

    async def refused_here() -> bool:
        async with sdk(gateway, org.member.key_secret) as client:
            try:
                await client.models.list()
            except openai.PermissionDeniedError as error:
                assert isinstance(error.body, dict) and error.body["code"] == "ip_not_allowed"
                return True
        return False

    await eventually(refused_here)
    await api.call("PUT", path, {"allowed_ips": ["127.0.0.0/8"]})
    await eventually(lambda: works(gateway, org.member.key_secret))
    bad = await api.call("PUT", path, {"allowed_ips": ["10.0.0.300"]})
    assert bad.status == 400 and bad.body["error"]["param"] == "allowed_ips"
    created = await api.post("/api/me/keys", {"allowed_ips": ["192.0.2.0/24"]})
    assert created.body["allowed_ips"] == ["192.0.2.0/24"]
    assert not await works(gateway, created.body["secret"])


def test_an_address_is_allowed_only_inside_a_listed_network() -> None:
    identity = KeyIdentity(
        "k", "u", "o", None, None, True, networks=parsed_networks(["10.0.0.0/8", "::1/128"])
    )
    assert identity.allows_address("10.1.2.3") and identity.allows_address("::1")
    assert not identity.allows_address("11.0.0.1")
    assert not identity.allows_address(None) and not identity.allows_address("not-an-ip")
    anywhere = KeyIdentity("k", "u", "o", None, None, True)
    assert anywhere.allows_address(None)


async def test_the_command_line_rotates_and_fences_keys_and_both_are_audited(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    env = cli_environment(backend)

    def aisonar(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    rotated = json.loads(
        await asyncio.to_thread(
            aisonar, "key", "rotate", org.member.key_id, "--grace", "0", "--json"
        )
    )
    await eventually(lambda: works(gateway, rotated["secret"]))
    await asyncio.to_thread(aisonar, "key", "allow-ip", org.member.key_id, "127.0.0.1,10.0.0.0/8")
    await asyncio.to_thread(aisonar, "key", "allow-ip", org.member.key_id, "none")
    entries = json.loads(
        await asyncio.to_thread(aisonar, "audit", "list", "--org", org.name, "--json")
    )
    assert [e["action"] for e in entries[:3]] == ["key.update", "key.update", "key.rotate"]
    assert entries[1]["changes"] == {"allowed_ips": [None, ["127.0.0.1/32", "10.0.0.0/8"]]}
