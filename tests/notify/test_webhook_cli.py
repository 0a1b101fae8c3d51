"""`aisonar webhook ...`: an operator adds an organization's endpoint at the command line,
tests it, reads its delivery log, rotates its secret and deletes it."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner, Result
from standardwebhooks import Webhook

from aisonar.cli import main
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_org
from tests.notify.deliveries import settled
from tests.notify.receiver import webhook_receiver
from tests.support import Backend, cli_environment


async def run(backend: Backend, *args: str, ok: bool = True) -> Result:
    env = {**cli_environment(backend), "AISONAR_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}
    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["webhook", *args], env=env, catch_exceptions=False
    )
    assert (result.exit_code == 0) is ok, result.output
    return result


async def test_an_operator_manages_an_endpoint_from_the_command_line(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    async with webhook_receiver() as receiver:
        created = json.loads(
            (
                await run(
                    backend,
                    "create",
                    org.name,
                    receiver.url,
                    "--kinds",
                    "key_created,key_revoked",
                    "--json",
                )
            ).stdout
        )
        assert created["kinds"] == ["key_created", "key_revoked"]
        tested = json.loads((await run(backend, "test", created["id"], "--json")).stdout)
        assert tested["delivered"] is True and tested["status_code"] == 200
        (ping,) = await receiver.wait_for(1)
        assert Webhook(created["secret"]).verify(ping.body, ping.headers)["type"] == "ping"

        await Api(gateway.url, org.member.token).delete(f"/api/keys/{org.member.key_id}")
        await settled(backend.engine, org.id, "key_revoked")
        log = json.loads((await run(backend, "deliveries", created["id"], "--json")).stdout)
        assert [(d["kind"], d["status"], d["attempts"]) for d in log] == [
            ("key_revoked", "delivered", 1)
        ]
        rotated = json.loads((await run(backend, "rotate-secret", created["id"], "--json")).stdout)
        assert rotated["secret"] != created["secret"]
        listed = json.loads((await run(backend, "list", org.name, "--json")).stdout)
        assert [e["id"] for e in listed] == [created["id"]]

        receiver.statuses = [500]
        failed = await run(backend, "test", created["id"], ok=False)
        assert "HTTP 500" in failed.output

        await run(backend, "delete", created["id"])
        assert json.loads((await run(backend, "list", org.name, "--json")).stdout) == []
        refused = await run(backend, "create", org.name, "ftp://nowhere", ok=False)
        assert "must be an http(s) URL" in refused.output
