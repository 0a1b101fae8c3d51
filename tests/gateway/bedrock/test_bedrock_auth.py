"""How a Bedrock channel authenticates, as the fake checks it: a SigV4 signature recomputed
with botocore's signer (a wrong secret is refused, so a signing bug fails here), temporary
keys of an assumed role (fetched from STS once, then reused), a Bedrock API key as a bearer
token; Bedrock's errors in the client's format; and `aisonar channel test` of a channel made
at the command line from a credentials file."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import aiohttp
import openai
import pytest
from click.testing import CliRunner

from aisonar.channels.credentials import AwsKeys
from aisonar.cli import main
from aisonar.gateway.prober import probe
from aisonar.gateway.wire.bedrock.signer import BedrockSigner
from aisonar.testing.fake_aws import FAKE_AWS_ACCESS_KEY_ID, FAKE_BEDROCK_API_KEY
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.bedrock.conftest import PROFILE, REGION, MakeBedrockChannel, key_pair
from tests.support import Backend, Tenant, cli_environment, recorded_events

ROLE_ARN = "arn:aws:iam::123456789012:role/aisonar-bedrock"


def client(gateway: RunningGateway, tenant: Tenant) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0)


async def ask(gateway: RunningGateway, tenant: Tenant, model: str, prompt: str = "Hi") -> str:
    async with client(gateway, tenant) as sdk:
        reply = await sdk.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}]
        )
    return reply.choices[0].message.content or ""


async def test_a_wrong_secret_makes_a_signature_the_fake_refuses(
    gateway: RunningGateway,
    bedrock_channel: MakeBedrockChannel,
    backend: Backend,
    tenant: Tenant,
) -> None:
    channel = await bedrock_channel(credentials=key_pair(secret="not-the-secret"))

    with pytest.raises(openai.APIStatusError) as refused:
        await ask(gateway, tenant, channel.model)

    assert refused.value.status_code == 502
    assert "rejected the gateway's credentials" in refused.value.message
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 502 and event.cost == 0


async def test_an_assumed_roles_keys_are_fetched_once_and_sign_every_request(
    gateway: RunningGateway,
    bedrock_channel: MakeBedrockChannel,
    fake_upstream: FakeUpstream,
    tenant: Tenant,
) -> None:
    role = f"{ROLE_ARN}-{secrets.token_hex(4)}"
    credentials = key_pair(role_arn=role, sts_endpoint=fake_upstream.root_url)
    channel = await bedrock_channel(credentials=credentials)

    answers = await asyncio.gather(*(ask(gateway, tenant, channel.model, "x") for _ in range(3)))
    answers.append(await ask(gateway, tenant, channel.model, "y"))

    assert answers == ["Echo: x", "Echo: x", "Echo: x", "Echo: y"]
    assert fake_upstream.aws.assumed_roles.count(role) == 1
    signed_with = fake_upstream.received_headers[-1]["Authorization"]
    assert "Credential=ASIA" in signed_with and "x-amz-security-token" in signed_with


async def test_a_role_whose_keys_near_their_expiry_is_assumed_again(
    fake_upstream: FakeUpstream,
) -> None:
    role = f"{ROLE_ARN}-{secrets.token_hex(4)}"
    keys = json.loads(key_pair())
    signer = BedrockSigner(
        AwsKeys(
            keys["access_key_id"],
            keys["secret_access_key"],
            role_arn=role,
            sts_endpoint=fake_upstream.root_url,
        ),
        REGION,
    )
    url = f"{fake_upstream.root_url}/foundation-models"
    async with aiohttp.ClientSession() as session:
        # Keys that last less than the five minutes of margin are renewed at once.
        fake_upstream.aws.next_duration_s = 120
        first = await signer.authorize(session, "GET", url, b"")
        second = await signer.authorize(session, "GET", url, b"")
        third = await signer.authorize(session, "GET", url, b"")
        async with session.get(url, headers=third) as listed:
            assert listed.status == 200
            assert PROFILE.removeprefix("us.") in {
                model["modelId"] for model in (await listed.json())["modelSummaries"]
            }

    assert fake_upstream.aws.assumed_roles.count(role) == 2
    assert first["X-Amz-Security-Token"] != second["X-Amz-Security-Token"]
    assert second["X-Amz-Security-Token"] == third["X-Amz-Security-Token"]


async def test_sts_refusing_the_role_fails_the_request_over_as_a_bad_gateway(
    gateway: RunningGateway,
    bedrock_channel: MakeBedrockChannel,
    fake_upstream: FakeUpstream,
    tenant: Tenant,
) -> None:
    credentials = key_pair(
        role_arn="arn:aws:iam::not-an-account", sts_endpoint=fake_upstream.root_url
    )
    channel = await bedrock_channel(credentials=credentials)

    with pytest.raises(openai.APIStatusError) as refused:
        await ask(gateway, tenant, channel.model)

    assert refused.value.status_code == 502
    assert "AWS STS refused to assume the channel's role" in refused.value.message
    assert "ValidationError" in refused.value.message


async def test_a_bedrock_api_key_is_a_bearer_token(
    gateway: RunningGateway,
    bedrock_channel: MakeBedrockChannel,
    fake_upstream: FakeUpstream,
    tenant: Tenant,
) -> None:
    channel = await bedrock_channel(credentials=FAKE_BEDROCK_API_KEY)
    wrong = await bedrock_channel(credentials="ABSK" + secrets.token_hex(16))

    assert await ask(gateway, tenant, channel.model) == "Echo: Hi"
    assert fake_upstream.received_headers[-1]["Authorization"] == f"Bearer {FAKE_BEDROCK_API_KEY}"
    with pytest.raises(openai.APIStatusError) as refused:
        await ask(gateway, tenant, wrong.model)
    assert refused.value.status_code == 502


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [("429", 429, "ThrottlingException"), ("400", 400, "ValidationException")],
)
async def test_bedrocks_errors_reach_the_client_in_its_format(
    gateway: RunningGateway,
    bedrock_channel: MakeBedrockChannel,
    tenant: Tenant,
    fault: str,
    status: int,
    code: str,
) -> None:
    channel = await bedrock_channel()

    with pytest.raises(openai.APIStatusError) as failed:
        await ask(gateway, tenant, channel.model, f"[[fault:{fault}]]")

    assert failed.value.status_code == status
    body = failed.value.body
    assert isinstance(body, dict) and body["code"] == code
    assert body["message"] and "The upstream provider answered" not in body["message"]


async def test_channel_test_of_a_channel_made_from_a_credentials_file(
    backend: Backend, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    name = f"bedrock-cli-{secrets.token_hex(3)}"
    credentials = tmp_path / "aws.json"
    credentials.write_text(key_pair(role_arn=ROLE_ARN, sts_endpoint=fake_upstream.root_url))
    env = cli_environment(backend)

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    create = [
        "channel", "create", name,
        "--provider", "bedrock",
        "--option", f"region={REGION}",
        "--base-url", fake_upstream.root_url,
        "--credentials-file", str(credentials),
        "--models", f"{name}-claude={PROFILE}",
    ]  # fmt: skip
    await asyncio.to_thread(run, *create)
    try:
        shown = json.loads(await asyncio.to_thread(run, "channel", "test", name, "--json"))
    finally:
        await asyncio.to_thread(run, "channel", "disable", name)

    assert shown["ok"] is True and shown["status"] == 200, shown
    assert shown["upstream_model"] == PROFILE
    assert "inferenceConfig" in fake_upstream.received[-1]
    assert FAKE_AWS_ACCESS_KEY_ID not in json.dumps(shown)


async def test_an_exception_frame_mid_stream_ends_the_clients_stream_with_an_error(
    gateway: RunningGateway,
    bedrock_channel: MakeBedrockChannel,
    backend: Backend,
    tenant: Tenant,
) -> None:
    channel = await bedrock_channel()
    received = ""

    async with client(gateway, tenant) as sdk:
        stream = await sdk.chat.completions.create(
            model=channel.model,
            messages=[{"role": "user", "content": "[[bedrock:throttled-mid-stream]] a b c d"}],
            stream=True,
        )
        with pytest.raises(openai.APIError) as failed:
            async for chunk in stream:
                received += chunk.choices[0].delta.content or "" if chunk.choices else ""

    assert received.startswith("Echo: ")
    assert "throttlingException" in failed.value.message
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 502
    assert event.error_message == "upstream stream error (throttlingException)"
    assert event.tokens_estimated and event.cost > 0


async def test_the_health_probe_lists_the_foundation_models_with_a_signed_get(
    gateway: RunningGateway, bedrock_channel: MakeBedrockChannel
) -> None:
    good = await bedrock_channel()
    wrong = await bedrock_channel(credentials=key_pair(secret="not-the-secret"))
    table = gateway.app.runtime.services.channels

    async with aiohttp.ClientSession() as session:
        outcomes = [
            await probe(session, route)
            for route in (table.template(good.id), table.template(wrong.id))
            if route is not None
        ]

    assert outcomes == [None, "http_403"]
