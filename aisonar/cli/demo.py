"""The demo: an organization, a user, channels of each provider to the built-in fake
upstream, a fresh key."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services as accounts
from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.billing.money import parse_amount
from aisonar.channels import services as channels
from aisonar.config import Settings
from aisonar.crypto import SecretBox

DEMO_ORG = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_CREDIT = "10.00"
# channel name -> (provider, models); the fake speaks all three formats on one port.
DEMO_CHANNELS = {
    "demo-fake-upstream": ("openai", "gpt-4o-mini,gpt-4o,text-embedding-3-small"),
    "demo-fake-anthropic": ("anthropic", "claude-sonnet-4-6,claude-haiku-4-5"),
    "demo-fake-gemini": ("gemini", "gemini-2.5-flash,gemini-2.5-pro"),
}
DEMO_MODELS = tuple(model for _, models in DEMO_CHANNELS.values() for model in models.split(","))


async def prepare_demo(conn: AsyncConnection, settings: Settings, upstream_root: str) -> str:
    """Create whatever of the demo is missing; returns a new key's secret.

    `upstream_root` is the fake upstream's root URL (OpenAI's base URL is its `/v1`)."""
    # Look before creating: a failed INSERT would abort the whole transaction on PostgreSQL.
    if DEMO_ORG not in {org.name for org in await accounts.list_orgs(conn)}:
        org = await accounts.create_org(conn, DEMO_ORG)
        await ledger.credit(
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
            api_key="fake-upstream-key",
            models=models,
        )
    _, secret = await accounts.create_key(conn, DEMO_EMAIL, name="demo")
    return secret


def demo_banner(base_url: str, secret: str) -> str:
    return f"""
AI Sonar demo is running at {base_url} (fake upstream behind it).
The demo organization has a prepaid balance: aisonar balance show demo

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
