"""The demo: an organization, a user, channels of each provider to the built-in fake
upstream, a fresh key, and an operator who signs in to the console with a password
made anew at each start."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services as accounts
from aisonar.accounts.services import hash_password
from aisonar.billing.services import LedgerKind, NewEntry, credit, parse_amount
from aisonar.channels import services as channels
from aisonar.cli.demo_vertex import demo_vertex_key
from aisonar.config import Settings
from aisonar.crypto import SecretBox
from aisonar.store.roles import Role
from aisonar.store.tables import users
from aisonar.testing.fake_aws import FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY

DEMO_ORG = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_OPERATOR_EMAIL = "operator@example.com"
DEMO_CREDIT = "10.00"
# channel name -> (provider, models); the fake speaks every format on one port.
DEMO_CHANNELS = {
    "demo-fake-upstream": ("openai", "gpt-4o-mini,gpt-4o,text-embedding-3-small"),
    "demo-fake-anthropic": ("anthropic", "claude-sonnet-4-6,claude-haiku-4-5"),
    "demo-fake-gemini": ("gemini", "gemini-2.5-flash,gemini-2.5-pro"),
    # Bedrock's ids are the channel's, mapped from a name of the demo's own.
    "demo-fake-bedrock": (
        "bedrock",
        "claude-sonnet-4-5-bedrock=us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ),
    # Azure OpenAI: each model on a deployment of the operator's naming.
    "demo-fake-azure": ("azure", "gpt-4.1-mini=demo-gpt-4-1-mini"),
}
DEMO_MODELS = tuple(
    entry.partition("=")[0] for _, models in DEMO_CHANNELS.values() for entry in models.split(",")
)
# A cloud channel's options, and the secret the fake checks: its own AWS key pair, with
# which every Bedrock request is signed.
_DEMO_OPTIONS = {"bedrock": {"region": "us-east-1"}, "azure": {"api_version": "2024-10-21"}}
_DEMO_SECRETS = {
    "bedrock": json.dumps(
        {"access_key_id": FAKE_AWS_ACCESS_KEY_ID, "secret_access_key": FAKE_AWS_SECRET_ACCESS_KEY}
    )
}


@dataclass(frozen=True)
class DemoAccess:
    # A new API key of the demo user.
    secret: str
    # The demo operator's console password, new at each start.
    password: str
    # The key file of the Vertex AI channel's service account, for the fake to trust.
    vertex_key: dict[str, Any]


async def _demo_operator(conn: AsyncConnection, password: str) -> None:
    known = {user.email: user for user in await accounts.list_users(conn, DEMO_ORG)}
    if DEMO_OPERATOR_EMAIL not in known:
        await accounts.create_user(
            conn,
            DEMO_OPERATOR_EMAIL,
            DEMO_ORG,
            name="Demo Operator",
            role=Role.OPERATOR,
            password=password,
        )
        return
    # Only the demo sets a password this way: nobody could otherwise sign in again.
    await conn.execute(
        update(users)
        .where(users.c.id == known[DEMO_OPERATOR_EMAIL].id)
        .values(password_hash=hash_password(password))
    )


async def prepare_demo(conn: AsyncConnection, settings: Settings, upstream_root: str) -> DemoAccess:
    """Create whatever of the demo is missing; returns a new key's secret and the
    operator's new console password.

    `upstream_root` is the fake upstream's root URL (OpenAI's base URL is its `/v1`)."""
    # Look before creating: a failed INSERT would abort the whole transaction on PostgreSQL.
    if DEMO_ORG not in {org.name for org in await accounts.list_orgs(conn)}:
        org = await accounts.create_org(conn, DEMO_ORG)
        await credit(
            conn,
            org.id,
            NewEntry(LedgerKind.RECHARGE, parse_amount(DEMO_CREDIT), "demo", "demo credit"),
        )
    if DEMO_EMAIL not in {user.email for user in await accounts.list_users(conn, DEMO_ORG)}:
        await accounts.create_user(conn, DEMO_EMAIL, DEMO_ORG, name="Demo User")
    existing = {channel.name for channel in await channels.list_channels(conn)}
    for name, (provider, models) in DEMO_CHANNELS.items():
        if name in existing:
            continue
        await channels.create_channel(
            conn,
            SecretBox(settings.resolved_secret_key()),
            name=name,
            provider=provider,
            base_url=upstream_root + "/v1" if provider == "openai" else upstream_root,
            api_key=_DEMO_SECRETS.get(provider, "fake-upstream-key"),
            models=models,
            options=_DEMO_OPTIONS.get(provider),
        )
    vertex_key = await demo_vertex_key(
        conn, SecretBox(settings.resolved_secret_key()), upstream_root
    )
    password = secrets.token_urlsafe(12)
    await _demo_operator(conn, password)
    _, secret = await accounts.create_key(conn, DEMO_EMAIL, name="demo")
    return DemoAccess(secret, password, vertex_key)


def demo_banner(base_url: str, access: DemoAccess) -> str:
    secret = access.secret
    return f"""
AI Sonar demo is running at {base_url} (fake upstream behind it).
The demo organization has a prepaid balance: aisonar balance show demo

The web console: {base_url}/console
  sign in as {DEMO_OPERATOR_EMAIL} with the password {access.password}

Try it with curl:

  curl {base_url}/v1/chat/completions \\
    -H "Authorization: Bearer {secret}" \\
    -H "Content-Type: application/json" \\
    -d '{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

Or with the OpenAI Python SDK (any model: gpt-4o-mini, claude-sonnet-4-6, gemini-2.5-flash):

  from openai import OpenAI
  client = OpenAI(base_url="{base_url}/v1", api_key="{secret}")
  reply = client.chat.completions.create(
      model="claude-sonnet-4-6", messages=[{{"role": "user", "content": "Hello!"}}]
  )
  print(reply.choices[0].message.content)

The anthropic SDK takes base_url="{base_url}", google-genai takes
http_options={{"base_url": "{base_url}"}}; both reach every model too.

Export what was recorded (metadata only):  aisonar usage export --format jsonl
Press Ctrl+C to stop.
"""
