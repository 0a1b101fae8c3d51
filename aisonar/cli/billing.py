"""`aisonar balance|ledger|price ...`: money."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import (
    Markup,
    get_org_by_name,
    list_markups,
    set_org_markup,
    set_plan_markup,
)
from aisonar.audit.models import COMMAND_LINE
from aisonar.billing.services import (
    BilledPrice,
    CodeBatch,
    LedgerEntry,
    LedgerKind,
    NewEntry,
    OperatorPrice,
    billed_price,
    create_codes,
    credit,
    durable_balance,
    format_amount,
    held_in_redis,
    list_operator_prices,
    parse_amount,
    set_low_balance_threshold,
    set_price,
)
from aisonar.cli.context import json_option, load_settings, parse_time, run_in_database
from aisonar.cli.exports import check_destination, export_options, write_export
from aisonar.cli.output import emit, emit_one
from aisonar.exports.services import export_ledger

OPERATOR_ACTOR = "operator (command line)"
PRICE_COLUMNS = ("model", "input", "cached_input", "cache_write", "output", "version")


@dataclass(frozen=True)
class BalanceView:
    org: str
    balance: str
    held: str
    available: str
    balance_units: int


@click.group()
def balance() -> None:
    """Prepaid balances."""


@balance.command("recharge")
@click.argument("org_name", metavar="ORG")
@click.argument("amount")
@click.option("--note", default="recharge", help="Why (kept in the ledger).")
@click.option("--reference", help="An outside reference, such as an invoice number.")
@click.option("--idempotency-key", help="The same key twice credits once.")
@json_option
def balance_recharge(
    org_name: str,
    amount: str,
    note: str,
    reference: str | None,
    idempotency_key: str | None,
    as_json: bool,
) -> None:
    """Credit AMOUNT (a decimal string, e.g. 12.50) to an organization."""

    async def work(conn: AsyncConnection) -> LedgerEntry:
        org = await get_org_by_name(conn, org_name)
        entry = NewEntry(
            LedgerKind.RECHARGE,
            parse_amount(amount),
            OPERATOR_ACTOR,
            note,
            reference,
            idempotency_key,
        )
        return await credit(conn, org.id, entry, actor=COMMAND_LINE)

    entry = run_in_database(work)
    emit_one(
        {
            **vars(entry),
            "amount": format_amount(entry.amount),
            "balance_after": format_amount(entry.balance_after),
        },
        as_json=as_json,
    )


@balance.command("show")
@click.argument("org_name", metavar="ORG")
@json_option
def balance_show(org_name: str, as_json: bool) -> None:
    """The organization's balance, as the ledger has it."""

    settings = load_settings()

    async def work(conn: AsyncConnection) -> BalanceView:
        org = await get_org_by_name(conn, org_name)
        durable = await durable_balance(conn, org.id)
        held = await held_in_redis(settings.redis_url, org.id) if settings.redis_url else 0
        return BalanceView(
            org.name,
            format_amount(durable.balance),
            format_amount(held),
            format_amount(durable.balance - held),
            durable.balance,
        )

    emit_one(run_in_database(work), as_json=as_json)


@click.command("ledger")
@click.argument("action", type=click.Choice(["export"]))
@click.argument("org_name", metavar="ORG")
@click.option("--since", help="From this time (ISO 8601).")
@export_options(default_format="csv")
def ledger_command(
    action: str, org_name: str, since: str | None, fmt: str, output: Path | None
) -> None:
    """`aisonar ledger export ORG`: every ledger entry of an organization, streamed."""
    check_destination(fmt, output)
    since_at = parse_time(since, "--since")

    async def work(conn: AsyncConnection) -> None:
        org = await get_org_by_name(conn, org_name)
        await write_export(export_ledger(conn, org.id, fmt=fmt, since=since_at), output)

    run_in_database(work)


@click.group()
def price() -> None:
    """Model prices (credits per million tokens)."""


@price.command("set")
@click.argument("model")
@click.option("--input", "input_price", required=True, help="Per million input tokens.")
@click.option("--output", "output_price", required=True, help="Per million output tokens.")
@click.option("--cached-input", help="Per million cached input tokens (default: --input).")
@click.option("--cache-write", help="Per million cache-write tokens (default: --input).")
@json_option
def price_set(
    model: str,
    input_price: str,
    output_price: str,
    cached_input: str | None,
    cache_write: str | None,
    as_json: bool,
) -> None:
    """Set the operator's price for MODEL; zero for both marks it free."""

    async def work(conn: AsyncConnection) -> OperatorPrice:
        return await set_price(
            conn,
            model,
            input=input_price,
            output=output_price,
            cached_input=cached_input,
            cache_write=cache_write,
            actor=COMMAND_LINE,
        )

    emit_one(run_in_database(work), as_json=as_json)


@price.command("list")
@json_option
def price_list(as_json: bool) -> None:
    """The operator's prices (models without one use the genai-prices catalogue)."""
    emit(run_in_database(list_operator_prices), PRICE_COLUMNS, as_json=as_json)


@price.command("show")
@click.argument("model")
@click.option("--provider", default="openai", help="Provider for the catalogue lookup.")
@json_option
def price_show(model: str, provider: str, as_json: bool) -> None:
    """The price MODEL is billed at: the operator's, or else the catalogue's."""

    async def work(conn: AsyncConnection) -> BilledPrice:
        return await billed_price(conn, model, provider)

    emit_one(run_in_database(work), as_json=as_json)


@click.group()
def markup() -> None:
    """Price multipliers per plan and per organization."""


@markup.command("set")
@click.argument("multiplier")
@click.option("--plan", "plan_name", help="Apply to every organization on this plan.")
@click.option("--org", "org_name", help="Apply to one organization, on top of its plan's.")
@json_option
def markup_set(multiplier: str, plan_name: str | None, org_name: str | None, as_json: bool) -> None:
    """Set MULTIPLIER (a decimal such as 1.25) for a plan or an organization."""
    if (plan_name is None) == (org_name is None):
        raise click.UsageError("give exactly one of --plan and --org")

    async def work(conn: AsyncConnection) -> Markup:
        if plan_name is not None:
            return await set_plan_markup(conn, plan_name, multiplier, actor=COMMAND_LINE)
        assert org_name is not None
        return await set_org_markup(conn, org_name, multiplier, actor=COMMAND_LINE)

    emit_one(run_in_database(work), as_json=as_json)


@markup.command("list")
@json_option
def markup_list(as_json: bool) -> None:
    """Every plan's multiplier and every organization's own."""
    emit(run_in_database(list_markups), ("scope", "name", "multiplier"), as_json=as_json)


@click.group("code")
def code_group() -> None:
    """Redemption codes."""


@code_group.command("create")
@click.option("--amount", required=True, help="Credit per code, a decimal such as 10.00.")
@click.option("--count", type=int, default=1, show_default=True, help="How many codes.")
@click.option("--expires", help="Expiry time, ISO 8601.")
@json_option
def code_create(amount: str, count: int, expires: str | None, as_json: bool) -> None:
    """Create codes; they are printed once and stored only as hashes."""
    expires_at = parse_time(expires, "--expires")

    async def work(conn: AsyncConnection) -> CodeBatch:
        return await create_codes(
            conn, amount=amount, count=count, expires_at=expires_at, actor=COMMAND_LINE
        )

    batch = run_in_database(work)
    if as_json:
        emit_one(batch, as_json=True)
        return
    click.echo(f"batch {batch.batch}: {len(batch.codes)} codes of {batch.amount}", err=True)
    click.echo("Store them now: they are shown only once.", err=True)
    for code in batch.codes:
        click.echo(code)


@balance.command("threshold")
@click.argument("org_name", metavar="ORG")
@click.argument("amount")
def balance_threshold(org_name: str, amount: str) -> None:
    """Notify when the balance falls below AMOUNT (0 turns the low-balance notice off)."""
    units = parse_amount(amount, param="amount", allow_zero=True)

    async def work(conn: AsyncConnection) -> None:
        org = await get_org_by_name(conn, org_name)
        await set_low_balance_threshold(conn, org.id, units, actor=COMMAND_LINE)

    run_in_database(work)
    click.echo(f"low-balance threshold of {org_name} is {format_amount(units)}")
