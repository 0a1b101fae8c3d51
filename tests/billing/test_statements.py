"""Monthly statements: each month opens with the balance the one before closed with,
adds what its entries added, by kind, and the API gives them to the organization's
members and admins only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.billing.money import parse_amount
from aisonar.billing.statements import next_month
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_operator, make_org
from tests.support import Backend, assert_ledger_invariant


def entry(kind: LedgerKind, amount: str) -> NewEntry:
    units = parse_amount(amount.lstrip("-"))
    return NewEntry(kind, -units if amount.startswith("-") else units, "test", "statement")


async def test_statements_carry_each_month_into_the_next(
    gateway: RunningGateway, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await make_org(backend.engine)
    this_month = datetime.now(UTC).date().replace(day=1)
    last_month = this_month.replace(year=this_month.year - (this_month.month == 1))
    last_month = last_month.replace(month=(this_month.month - 2) % 12 + 1)
    assert next_month(last_month) == this_month
    moments = iter(
        [datetime(last_month.year, last_month.month, 28, 23, tzinfo=UTC)] * 2
        + [datetime(this_month.year, this_month.month, 1, 0, 30, tzinfo=UTC)] * 2
    )
    monkeypatch.setattr(ledger, "utcnow", lambda: next(moments))
    async with backend.engine.begin() as conn:
        await ledger.append(conn, org.id, [entry(LedgerKind.RECHARGE, "10")])
        await ledger.append(conn, org.id, [entry(LedgerKind.USAGE, "-0.25")])
        await ledger.append(conn, org.id, [entry(LedgerKind.REDEMPTION, "3")])
        await ledger.append(conn, org.id, [entry(LedgerKind.USAGE, "-1.5")])
    monkeypatch.undo()
    await assert_ledger_invariant(backend.engine, org.id)

    member = Api(gateway.url, org.member.token)
    now, before = (await member.get("/api/me/statements")).body
    assert before == {
        "month": last_month.strftime("%Y-%m"),
        "opening": "0.00",
        "recharges": "10.00",
        "redemptions": "0.00",
        "usage": "-0.25",
        "refunds": "0.00",
        "adjustments": "0.00",
        "closing": "9.75",
        "entries": 2,
    }
    assert (now["month"], now["opening"], now["closing"]) == (
        this_month.strftime("%Y-%m"),
        "9.75",
        "11.25",
    )
    assert (now["redemptions"], now["usage"], now["entries"]) == ("3.00", "-1.50", 2)
    assert len((await member.get("/api/me/statements?months=1")).body) == 1
    assert (await member.get("/api/me/statements?months=0")).status == 400

    # The organization's admins and operators; a member of another is refused.
    admin = Api(gateway.url, org.admin.token)
    assert (await admin.get(f"/api/orgs/{org.id}/statements")).body == [now, before]
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    assert (await operator.get(f"/api/orgs/{org.id}/statements")).status == 200
    stranger = Api(gateway.url, (await make_org(backend.engine)).admin.token)
    assert (await stranger.get(f"/api/orgs/{org.id}/statements")).status in (403, 404)
    assert (await member.get(f"/api/orgs/{org.id}/statements")).status == 403
    # An organization without entries has no statements.
    assert (await stranger.get("/api/me/statements")).body == []
