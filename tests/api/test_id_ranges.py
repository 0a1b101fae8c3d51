"""A numbered id past what its column holds (32-bit on PostgreSQL, 64-bit on SQLite and
for the ledger), or negative, is refused as invalid input (400) at the boundary, in the
API and in the console; the largest one it holds is taken. Never a database error."""

from __future__ import annotations

import pytest

from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway
from aisonar.web.ids import MAX_LEDGER_ENTRY_ID, MAX_ROW_ID
from tests.api.people import Api, make_operator, make_org
from tests.console.forms import fetch, signed_in, submit
from tests.console.people import console_person
from tests.support import Backend

PAST_ROW_IDS = [MAX_ROW_ID + 1, 2**63, 2**64 + 1, -1, -(2**47)]


@pytest.mark.parametrize("past", PAST_ROW_IDS)
async def test_ids_past_their_column_are_refused_in_the_api(
    gateway: RunningGateway, backend: Backend, past: int
) -> None:
    member = Api(gateway.url, (await make_org(backend.engine)).member.token)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    for api, path in (
        (member, f"/api/me/notices?before_id={past}"),
        (operator, f"/api/audit?before_id={past}"),
        (operator, f"/api/webhooks/wh_none/deliveries?before_id={past}"),
    ):
        answer = await api.get(path)
        assert answer.status == 400, (path, answer.body)
        assert answer.body["error"]["param"] == "query.before_id"
    answer = await member.post("/api/me/notices/read", {"through_id": past})
    assert answer.status == 400 and answer.body["error"]["param"] == "through_id"


async def test_the_largest_id_a_column_holds_is_taken(
    gateway: RunningGateway, backend: Backend
) -> None:
    member = Api(gateway.url, (await make_org(backend.engine)).member.token)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    assert (await member.get(f"/api/me/notices?before_id={MAX_ROW_ID}")).status == 200
    assert (await operator.get(f"/api/audit?before_id={MAX_ROW_ID}")).status == 200
    read = await member.post("/api/me/notices/read", {"through_id": MAX_ROW_ID})
    assert read.status == 200 and read.body["unread"] == 0


async def test_ids_past_their_column_are_refused_in_the_console(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    past_row, past_entry = MAX_ROW_ID + 1, MAX_LEDGER_ENTRY_ID + 1
    http = await signed_in(gateway.url, person.email)
    try:
        for page in (
            f"/console/notices?before={past_row}",
            f"/console/billing?before={past_entry}",
            "/console/billing?before=-1",
        ):
            status, _ = await fetch(http, gateway.url + page)
            assert status == 400, page
        # What a form or a redirect carries, read by hand: ignored, or refused.
        status, _ = await fetch(http, gateway.url + f"/console/billing?redeemed={past_entry}")
        assert status == 200
        status, _, _ = await submit(
            http,
            gateway.url,
            "/console/notices",
            "/console/notices/read",
            {"through_id": str(past_row)},
        )
        assert status == 400
    finally:
        await http.close()
    http = await signed_in(gateway.url, operator.email)
    try:
        for page in (f"/console/audit?before={past_row}", "/console/operator/recharges?before=-1"):
            status, _ = await fetch(http, gateway.url + page)
            assert status == 400, page
        for done in (str(past_entry), "\u00b2", "9" * 5000):
            status, _ = await fetch(http, gateway.url + f"/console/operator/recharges?done={done}")
            assert status == 200, done
    finally:
        await http.close()
