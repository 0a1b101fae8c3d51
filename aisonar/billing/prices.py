"""The price book: operator prices first, then the genai-prices catalogue; unpriced
models are refused, never charged zero by accident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from pydantic.dataclasses import dataclass as checked
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.billing import price_database
from aisonar.billing.money import format_amount, parse_amount
from aisonar.billing.pricing import ModelPrice, Rate
from aisonar.clock import as_utc, utcnow
from aisonar.errors import AISonarError, InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.store.changes import record_change
from aisonar.store.tables import model_prices

PRICE_ENTITY = "price"


class ModelNotPriced(AISonarError):
    status = 403
    kind = "permission_error"
    code = "model_not_priced"


# Credits per million tokens, as a decimal string.
PriceText = Annotated[str, Field(max_length=40)]


@checked(frozen=True)
class PriceSetting:
    """An operator's price as people type it (the rules the API's body follows too); the
    cached-input and cache-write prices default to the input price."""

    input: Annotated[PriceText, Field(min_length=1)]
    output: Annotated[PriceText, Field(min_length=1)]
    cached_input: PriceText | None = None
    cache_write: PriceText | None = None


@dataclass(frozen=True)
class OperatorPrice:
    """Credits per million tokens, as decimal strings."""

    model: str
    input: str
    cached_input: str
    cache_write: str
    output: str
    version: str
    created_at: datetime


def _operator_price(row: Any) -> ModelPrice:
    return ModelPrice(
        model=row.model,
        version=f"operator #{row.id}",
        input=Rate(row.input),
        cached_input=Rate(row.cached_input),
        cache_write=Rate(row.cache_write),
        output=Rate(row.output),
    )


async def load_operator_prices(conn: AsyncConnection) -> dict[str, ModelPrice]:
    newest = select(func.max(model_prices.c.id)).group_by(model_prices.c.model).scalar_subquery()
    rows = await conn.execute(select(model_prices).where(model_prices.c.id.in_(newest)))
    return {row.model: _operator_price(row) for row in rows}


class PriceBook:
    def __init__(self, operator_prices: dict[str, ModelPrice]) -> None:
        self._operator = operator_prices
        self._catalogue: dict[tuple[str, str], ModelPrice | None] = {}

    def replace_operator_prices(self, prices: dict[str, ModelPrice]) -> None:
        self._operator = prices

    def price(self, model: str, provider: str) -> ModelPrice:
        found = self._operator.get(model)
        if found is not None:
            return found
        key = (model, provider)
        if key not in self._catalogue:
            self._catalogue[key] = price_database.lookup(model, provider)
        found = self._catalogue[key]
        if found is None:
            raise ModelNotPriced(
                N_(
                    "The model `{model}` has no price, so it cannot be billed. "
                    "The operator can set one with `aisonar price set {model} "
                    "...` (zero marks it free)."
                ),
                model=model,
            )
        return found


async def set_price(
    conn: AsyncConnection,
    model: str,
    *,
    input: str,
    output: str,
    cached_input: str | None = None,
    cache_write: str | None = None,
    actor: Actor = SYSTEM,
) -> OperatorPrice:
    if not model.strip():
        raise InvalidInput(N_("model must not be empty"), param="model")
    values = {
        "input": parse_amount(input, param="input", allow_zero=True),
        "output": parse_amount(output, param="output", allow_zero=True),
        "cached_input": parse_amount(cached_input or input, param="cached_input", allow_zero=True),
        "cache_write": parse_amount(cache_write or input, param="cache_write", allow_zero=True),
    }
    await conn.execute(
        insert(model_prices).values(model=model.strip(), created_at=utcnow(), **values)
    )
    await record_change(conn, PRICE_ENTITY, model)
    price = await get_operator_price(conn, model.strip())
    await audit.record(
        conn,
        actor,
        "price.set",
        object_kind="price",
        object_id=price.model[:64],
        changes=audit.created(
            {
                "input": price.input,
                "cached_input": price.cached_input,
                "cache_write": price.cache_write,
                "output": price.output,
            }
        ),
    )
    return price


def _display(row: Any) -> OperatorPrice:
    return OperatorPrice(
        model=row.model,
        input=format_amount(row.input),
        cached_input=format_amount(row.cached_input),
        cache_write=format_amount(row.cache_write),
        output=format_amount(row.output),
        version=f"operator #{row.id}",
        created_at=as_utc(row.created_at),
    )


async def get_operator_price(conn: AsyncConnection, model: str) -> OperatorPrice:
    row = (
        await conn.execute(
            select(model_prices)
            .where(model_prices.c.model == model)
            .order_by(model_prices.c.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        raise NotFound(N_("no operator price for {model!r}"), model=model)
    return _display(row)


async def list_operator_prices(conn: AsyncConnection) -> list[OperatorPrice]:
    newest = select(func.max(model_prices.c.id)).group_by(model_prices.c.model).scalar_subquery()
    rows = await conn.execute(
        select(model_prices).where(model_prices.c.id.in_(newest)).order_by(model_prices.c.model)
    )
    return [_display(row) for row in rows]


@dataclass(frozen=True)
class BilledPrice:
    """The price a model is billed at, credits per million tokens, and where it is from:
    the operator's own, or the genai-prices catalogue."""

    model: str
    source: str
    input: str
    cached_input: str
    cache_write: str
    output: str
    version: str


async def billed_price(conn: AsyncConnection, model: str, provider: str) -> BilledPrice:
    try:
        own = await get_operator_price(conn, model)
    except NotFound:
        found = price_database.lookup(model, provider)
        if found is None:
            raise NotFound(
                N_("{model!r} has no price: set one with `aisonar price set`"), model=model
            ) from None
        return BilledPrice(
            model=model,
            source="catalogue",
            input=format_amount(found.input.base),
            cached_input=format_amount(found.cached_input.base),
            cache_write=format_amount(found.cache_write.base),
            output=format_amount(found.output.base),
            version=found.version,
        )
    fields = {name: value for name, value in vars(own).items() if name != "created_at"}
    return BilledPrice(**fields, source="operator")
