"""What an operator configures for the whole installation: upstream channels (their
keys never shown), operator prices, and markups per plan and organization."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from aisonar.accounts import services as accounts
from aisonar.accounts.services import MultiplierText
from aisonar.billing import services as billing
from aisonar.billing.services import PriceText
from aisonar.channels import services as channels
from aisonar.channels.models import Channel
from aisonar.channels.services import (
    ApiKeyText,
    BaseUrl,
    ChannelName,
    ChannelSettings,
    ModelsText,
    NewChannel,
    Options,
)
from aisonar.web.deps import Acting, Box, Engine, Operator

router = APIRouter(tags=["catalog"])
_STRICT = ConfigDict(extra="forbid")


class ChannelOut(BaseModel):
    id: str
    name: str
    provider: str
    base_url: str
    # Requested name (or `*` pattern) -> the name sent upstream.
    models: dict[str, str]
    enabled: bool
    priority: int
    weight: int
    timeout_connect_s: float | None
    timeout_first_byte_s: float | None
    timeout_total_s: float | None
    # The provider's own settings: {"api_version": "2024-10-21"} for azure.
    options: dict[str, str]

    @classmethod
    def of(cls, channel: Channel) -> ChannelOut:
        return cls(
            id=channel.id,
            name=channel.name,
            provider=channel.provider,
            base_url=channel.base_url,
            models=channel.models,
            enabled=channel.enabled,
            priority=channel.priority,
            weight=channel.weight,
            timeout_connect_s=channel.timeouts.connect_s,
            timeout_first_byte_s=channel.timeouts.first_byte_s,
            timeout_total_s=channel.timeouts.total_s,
            options=dict(channel.options),
        )


class ChannelCreate(BaseModel):
    model_config = _STRICT
    name: ChannelName
    provider: str
    # Default: the provider's public API.
    base_url: Annotated[BaseUrl, Field(min_length=1)] | None = None
    # An API key, or a cloud provider's JSON credentials as a string (never shown again);
    # none for a host that checks no key (the ollama and vllm presets).
    api_key: ApiKeyText = ""
    # Comma-separated: `gpt-4o`, `fast=gpt-4o-mini`, `claude-*`.
    models: Annotated[ModelsText, Field(min_length=1)]
    priority: int = 0
    weight: int = 1
    # The provider's own settings: api_version (azure), region (bedrock), project and
    # location (vertex), preset (openai: deepseek, groq, ollama, ...).
    options: Options | None = None


class ChannelChange(BaseModel):
    model_config = _STRICT
    base_url: BaseUrl | None = None
    api_key: ApiKeyText | None = None
    models: ModelsText | None = None
    priority: int | None = None
    weight: int | None = None
    enabled: bool | None = None
    timeout_connect_s: float | None = None
    timeout_first_byte_s: float | None = None
    timeout_total_s: float | None = None
    # Replaces all the channel's options.
    options: Options | None = None


@router.get("/api/channels", tags=["channels"])
async def list_channels(caller: Operator, db: Engine) -> list[ChannelOut]:
    async with db.connect() as conn:
        return [ChannelOut.of(channel) for channel in await channels.list_channels(conn)]


@router.post("/api/channels", status_code=201, tags=["channels"])
async def create_channel(
    caller: Operator,
    actor: Acting,
    db: Engine,
    box: Box,
    body: ChannelCreate,
) -> ChannelOut:
    async with db.begin() as conn:
        channel = await channels.add_channel(conn, box, actor, NewChannel(**body.model_dump()))
    return ChannelOut.of(channel)


@router.patch("/api/channels/{name}", tags=["channels"])
async def change_channel(
    caller: Operator,
    actor: Acting,
    db: Engine,
    box: Box,
    name: str,
    body: ChannelChange,
) -> ChannelOut:
    """Change the given fields; every server picks the change up at once."""
    timeouts = {"timeout_connect_s", "timeout_first_byte_s", "timeout_total_s"}
    cleared = {name for name in body.model_fields_set & timeouts if getattr(body, name) is None}
    async with db.begin() as conn:
        settings = ChannelSettings(**body.model_dump(), cleared=frozenset(cleared))
        channel = await channels.change_channel_named(conn, box, actor, name, settings)
    return ChannelOut.of(channel)


class PriceIn(BaseModel):
    model_config = _STRICT
    input: Annotated[PriceText, Field(min_length=1)]
    output: Annotated[PriceText, Field(min_length=1)]
    cached_input: PriceText | None = None
    cache_write: PriceText | None = None


@router.get("/api/prices", tags=["prices"])
async def list_prices(caller: Operator, db: Engine) -> list[billing.OperatorPrice]:
    """The operator's own prices (the price database covers every other model)."""
    async with db.connect() as conn:
        return await billing.list_operator_prices(conn)


@router.get("/api/prices/{model}", tags=["prices"])
async def show_price(
    caller: Operator, db: Engine, model: str, provider: Annotated[str, Query()] = "openai"
) -> billing.BilledPrice:
    """The price the model is billed at before markups, in credits per million tokens:
    the operator's own, or else the catalogue's for that provider (404 when neither has
    one)."""
    async with db.connect() as conn:
        return await billing.billed_price(conn, model, provider)


@router.put("/api/prices/{model}", tags=["prices"])
async def set_price(
    caller: Operator, actor: Acting, db: Engine, model: str, body: PriceIn
) -> billing.OperatorPrice:
    async with db.begin() as conn:
        price = await billing.set_price(
            conn,
            model,
            input=body.input,
            output=body.output,
            cached_input=body.cached_input,
            cache_write=body.cache_write,
            actor=actor,
        )
    return price


class MarkupIn(BaseModel):
    model_config = _STRICT
    # A decimal multiplier: "1.25".
    multiplier: MultiplierText


@router.get("/api/markups", tags=["prices"])
async def list_markups(caller: Operator, db: Engine) -> list[accounts.Markup]:
    async with db.connect() as conn:
        return await accounts.list_markups(conn)


@router.put("/api/plans/{plan}/markup", tags=["prices"])
async def set_plan_markup(
    caller: Operator, actor: Acting, db: Engine, plan: str, body: MarkupIn
) -> accounts.Markup:
    async with db.begin() as conn:
        markup = await accounts.set_plan_markup(conn, plan, body.multiplier, actor=actor)
    return markup


@router.put("/api/orgs/{org_id}/markup", tags=["prices"])
async def set_org_markup(
    caller: Operator, actor: Acting, db: Engine, org_id: str, body: MarkupIn
) -> accounts.Markup:
    async with db.begin() as conn:
        org = await accounts.get_org(conn, org_id)
        markup = await accounts.set_org_markup(conn, org.name, body.multiplier, actor=actor)
    return markup
