"""Quick start: how to call the gateway with the official `openai`, `anthropic` and
`google-genai` Python SDKs and with curl, each snippet with this server's base URL
(`AISONAR_PUBLIC_URL`, else the address the page was asked for) at the path that SDK
expects, and a model the person may use: one of the models the channels serve by name
that the organization's model list admits (as `GET /v1/models` lists them), chosen on
the page or, by default, one its SDK's own provider serves."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query, Request, Response

from aisonar.accounts import services as accounts
from aisonar.accounts.services import active_key_counts
from aisonar.channels.services import allows
from aisonar.clock import utcnow
from aisonar.console.render import page
from aisonar.console.routing import console_router
from aisonar.console.visit import Member
from aisonar.gateway.routing import ChannelTable
from aisonar.i18n import N_
from aisonar.web.deps import Config, Services

router = console_router()

QUICKSTART_PATH = "/console/quickstart"
# The environment variable the snippets read the key from.
KEY_VARIABLE = "AISONAR_API_KEY"


@dataclass(frozen=True)
class Snippet:
    id: str
    title: str
    install: str
    code: str


def base_url(request: Request, public_url: str) -> str:
    """Where people reach this server: the configured public URL, else this request's."""
    return public_url or str(request.base_url).rstrip("/")


def usable_models(channels: ChannelTable, org_models: list[str] | None) -> list[str]:
    """The models served by name that the organization's list admits (none: all)."""
    return [m for m in channels.models() if org_models is None or allows(org_models, m)]


def provider_model(channels: ChannelTable, usable: list[str], provider: str) -> str | None:
    """The first usable model a channel of the provider serves by name."""
    served = {
        name
        for entry in channels.channels.values()
        if entry.channel.provider == provider
        for name in entry.channel.models
    }
    return next((model for model in usable if model in served), None)


def snippets(base: str, models: dict[str, str]) -> list[Snippet]:
    """The code for each client; strings are JSON-quoted, which Python and the shell's
    single quotes both read as they are."""
    key = KEY_VARIABLE
    openai_model, anthropic_model = json.dumps(models["openai"]), json.dumps(models["anthropic"])
    gemini_model = json.dumps(models["gemini"])
    body = json.dumps(
        {"model": models["openai"], "messages": [{"role": "user", "content": "Hello!"}]}
    ).replace("'", "'\\''")
    return [
        Snippet(
            "openai",
            N_("OpenAI SDK (openai)"),
            "pip install openai",
            f"""import os
from openai import OpenAI

client = OpenAI(base_url={json.dumps(base + "/v1")}, api_key=os.environ["{key}"])
response = client.chat.completions.create(
    model={openai_model},
    messages=[{{"role": "user", "content": "Hello!"}}],
)
print(response.choices[0].message.content)""",
        ),
        Snippet(
            "anthropic",
            N_("Anthropic SDK (anthropic)"),
            "pip install anthropic",
            f"""import os
import anthropic

client = anthropic.Anthropic(base_url={json.dumps(base)}, api_key=os.environ["{key}"])
message = client.messages.create(
    model={anthropic_model},
    max_tokens=1024,
    messages=[{{"role": "user", "content": "Hello!"}}],
)
print(message.content[0].text)""",
        ),
        Snippet(
            "gemini",
            N_("Google Gen AI SDK (google-genai)"),
            "pip install google-genai",
            f"""import os
from google import genai
from google.genai import types

client = genai.Client(
    api_key=os.environ["{key}"],
    http_options=types.HttpOptions(base_url={json.dumps(base)}, api_version="v1beta"),
)
response = client.models.generate_content(model={gemini_model}, contents="Hello!")
print(response.text)""",
        ),
        Snippet(
            "curl",
            N_("curl (the OpenAI format)"),
            f'export {key}="sk-..."',
            f"""curl {json.dumps(base + "/v1/chat/completions")} \\
  -H "Authorization: Bearer ${key}" \\
  -H "Content-Type: application/json" \\
  -d '{body}'""",
        ),
    ]


@router.get(QUICKSTART_PATH)
async def quickstart_page(
    request: Request,
    member: Member,
    running: Services,
    settings: Config,
    model: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    async with running.engine.connect() as conn:
        org_models = await accounts.org_models(conn, member.principal.org_id)
        working = await active_key_counts(conn, [member.principal.user_id], utcnow())
    channels = running.channels
    usable = usable_models(channels, org_models)
    chosen = model if model in usable else ""
    first = usable[0] if usable else "gpt-4o-mini"
    per_client = {
        provider: chosen or provider_model(channels, usable, provider) or first
        for provider in ("openai", "anthropic", "gemini")
    }
    base = base_url(request, settings.public_url)
    context = {
        "base_url": base,
        "models": usable,
        "chosen": chosen,
        "snippets": snippets(base, per_client),
        "key_variable": KEY_VARIABLE,
        "has_key": working[member.principal.user_id] > 0,
    }
    return page(member, "quickstart.html", context)
