"""How a Vertex AI channel authenticates, as the fake's Google OAuth endpoint checks it: one
access token minted (a grant signed with the service account's key) and reused, minted again
before it expires, one mint for many requests at once, a token the upstream refuses replaced
within the same request, a service account Google does not know refused in the client's
format; and `aisonar channel test` of a channel made at the command line from a key file."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from click.testing import CliRunner

from aisonar.cli import main
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.vertex.conftest import (
    CLAUDE,
    LOCATION,
    PROJECT,
    MakeVertexChannel,
    token_lifetime,
)
from tests.support import Backend, Tenant, cli_environment, recorded_events


async def ask(gateway: RunningGateway, tenant: Tenant, model: str) -> str:
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as client:
        reply = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hello there"}]
        )
    return reply.choices[0].message.content or ""


def sent_token(fake: FakeUpstream) -> str:
    return fake.received_headers[-1]["Authorization"]


async def test_one_token_serves_both_families_and_many_requests(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    vertex_channel: MakeVertexChannel,
) -> None:
    channel = await vertex_channel()
    before = fake_upstream.google_tokens_minted
    for model in (channel.gemini, channel.claude, channel.gemini):
        assert (await ask(gateway, tenant, model)).startswith("Echo:")
    assert fake_upstream.google_tokens_minted == before + 1
    assert len({headers["Authorization"] for headers in fake_upstream.received_headers[-3:]}) == 1


async def test_requests_at_once_wait_for_one_mint(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    vertex_channel: MakeVertexChannel,
) -> None:
    channel = await vertex_channel()
    before = fake_upstream.google_tokens_minted
    answers = await asyncio.gather(*(ask(gateway, tenant, channel.gemini) for _ in range(8)))
    assert all(answer.startswith("Echo:") for answer in answers)
    assert fake_upstream.google_tokens_minted == before + 1


async def test_a_token_is_renewed_before_it_expires(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    vertex_channel: MakeVertexChannel,
) -> None:
    channel = await vertex_channel()
    with token_lifetime(fake_upstream, 2):
        before = fake_upstream.google_tokens_minted
        assert await ask(gateway, tenant, channel.gemini)
        first = sent_token(fake_upstream)
        assert await ask(gateway, tenant, channel.claude)
        assert sent_token(fake_upstream) == first
        # Renewed halfway through a life this short, before the fake would refuse it.
        await asyncio.sleep(1.2)
        assert await ask(gateway, tenant, channel.gemini)
        assert sent_token(fake_upstream) != first
        assert fake_upstream.google_tokens_minted == before + 2


async def test_a_refused_token_is_replaced_within_the_request(
    gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    vertex_channel: MakeVertexChannel,
) -> None:
    channel = await vertex_channel()
    assert await ask(gateway, tenant, channel.claude)
    first = sent_token(fake_upstream)
    before = fake_upstream.google_tokens_minted
    # Revoked, or expired early by Google's clock: the gateway still holds it as fresh.
    fake_upstream.expire_google_tokens()

    assert (await ask(gateway, tenant, channel.claude)).startswith("Echo:")

    assert fake_upstream.google_tokens_minted == before + 1
    assert sent_token(fake_upstream) != first
    events = await recorded_events(backend, tenant, 2)
    assert [event.status_code for event in events] == [200, 200]


async def test_a_service_account_google_does_not_know_is_refused(
    gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    service_account: dict[str, Any],
    vertex_channel: MakeVertexChannel,
) -> None:
    stranger = {**service_account, "client_email": "stranger@elsewhere.iam.gserviceaccount.com"}
    channel = await vertex_channel(credentials=stranger)

    async with anthropic.AsyncAnthropic(
        base_url=gateway.url, api_key=tenant.secret, max_retries=0
    ) as client:
        with pytest.raises(anthropic.APIStatusError) as refused:
            await client.messages.create(
                model=channel.claude, max_tokens=16, messages=[{"role": "user", "content": "Hi"}]
            )

    assert refused.value.status_code == 502
    assert "rejected the gateway's credentials" in refused.value.message
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 502 and event.cost == 0


async def test_channel_test_of_a_channel_made_at_the_command_line(
    backend: Backend,
    fake_upstream: FakeUpstream,
    service_account: dict[str, Any],
    tmp_path: Path,
) -> None:
    name = f"vertex-cli-{secrets.token_hex(3)}"
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(service_account))
    env = cli_environment(backend)

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    create = [
        "channel", "create", name,
        "--provider", "vertex",
        "--option", f"project={PROJECT}",
        "--option", f"location={LOCATION}",
        "--base-url", fake_upstream.root_url,
        "--credentials-file", str(key_file),
        "--models", f"{name}-claude={CLAUDE}",
    ]  # fmt: skip
    await asyncio.to_thread(run, *create)
    try:
        shown = json.loads(await asyncio.to_thread(run, "channel", "test", name, "--json"))
    finally:
        await asyncio.to_thread(run, "channel", "disable", name)

    assert shown["ok"] is True and shown["status"] == 200, shown
    assert shown["upstream_model"] == CLAUDE
    assert fake_upstream.received[-1]["anthropic_version"] == "vertex-2023-10-16"
    assert service_account["private_key"] not in json.dumps(shown)
