"""Retention: raw usage events past their plan's window (or their organization's own)
are deleted in batches, rollups past theirs too, and the ledger is never touched;
`aisonar retention run --as-of` (or, for operators, `POST /api/retention/run`) moves
time, and is audited; `aisonar plan set` changes a window."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select

from aisonar.cli import main
from aisonar.clock import utcnow
from aisonar.store.tables import audit_log, ledger_entries, usage_events, usage_rollups
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.compaction import compact
from aisonar.usage.rollups import ORGANIZATION_TOTAL
from tests.api.people import Api, Org, make_operator, make_org
from tests.support import Backend, assert_ledger_invariant, cli_environment
from tests.usage.test_rollups import event, write


async def aisonar(backend: Backend, *args: str) -> Any:
    result = await asyncio.to_thread(
        CliRunner().invoke, main, list(args), env=cli_environment(backend), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def counts(backend: Backend, org: Org) -> tuple[int, int, int]:
    async with backend.engine.connect() as conn:
        raw = await conn.scalar(
            select(func.count()).select_from(usage_events).where(usage_events.c.org_id == org.id)
        )
        rollups = await conn.scalar(
            select(func.coalesce(func.sum(usage_rollups.c.requests), 0)).where(
                usage_rollups.c.org_id == org.id,
                # The combinations' rows, not the organization's per model and in total.
                usage_rollups.c.dimensions_id > ORGANIZATION_TOTAL,
            )
        )
        ledger = await conn.scalar(
            select(func.count())
            .select_from(ledger_entries)
            .where(ledger_entries.c.org_id == org.id)
        )
    return int(raw or 0), int(rollups or 0), int(ledger or 0)


async def test_raw_events_go_with_their_plan_and_the_ledger_stays(
    gateway: RunningGateway, backend: Backend
) -> None:
    free, pro = await make_org(backend.engine), await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    await operator.call("PATCH", f"/api/orgs/{pro.id}", {"plan": "pro"})
    for org in (free, pro):
        await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "5"})
    now = utcnow()
    # Written "now" (so they go through the minutes), ten days old by --as-of.
    await write(backend, [event(org.id, now) for org in (free, pro) for _ in range(30)])
    async with backend.engine.begin() as conn:
        await compact(conn, now + timedelta(minutes=1))  # through this minute
    before = {org.id: await counts(backend, org) for org in (free, pro)}
    assert before[free.id] == (30, 90, 1)  # the minute, the hour and the day rows

    ten_days_on = (now + timedelta(days=10)).isoformat()
    report = await aisonar(backend, "retention", "run", "--as-of", ten_days_on, "--json")
    assert report["events_deleted"] >= 30
    # Free keeps 7 days, Pro 90: only the Free organization's events are gone.
    assert await counts(backend, free) == (0, 90, 1)
    assert await counts(backend, pro) == before[pro.id]
    await assert_ledger_invariant(backend.engine, free.id)

    # Its own window overrides its plan; minute rollups go after 30 days, the rest later.
    await operator.call("PATCH", f"/api/orgs/{pro.id}", {"retention_days": 5})
    forty_days_on = (now + timedelta(days=40)).isoformat()
    await aisonar(backend, "retention", "run", "--as-of", forty_days_on, "--json")
    raw, rolled, ledger = await counts(backend, pro)
    assert (raw, rolled, ledger) == (0, 60, 1)


async def test_operators_set_a_plans_window(gateway: RunningGateway, backend: Backend) -> None:
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    plans = {p["name"]: p["retention_days"] for p in (await operator.get("/api/plans")).body}
    seeded = {"free": 7, "pro": 90, "scale": 365, "enterprise": 365}
    # (Other tests add plans of their own.)
    assert {name: plans[name] for name in seeded} == seeded
    changed = await operator.call("PATCH", "/api/plans/enterprise", {"retention_days": 400})
    assert changed.body["retention_days"] == 400
    listed = await aisonar(backend, "plan", "list", "--json")
    assert {p["name"]: p["retention_days"] for p in listed}["enterprise"] == 400
    shown = await aisonar(backend, "plan", "set", "enterprise", "--retention-days", "365", "--json")
    assert shown["retention_days"] == 365
    bad = await operator.call("PATCH", "/api/plans/free", {"retention_days": 0})
    assert bad.status == 400
    assert (await operator.call("PATCH", "/api/plans/nope", {"retention_days": 3})).status == 404


async def retention_runs(backend: Backend) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(audit_log).where(audit_log.c.action == "retention.run")
        return list(await conn.execute(query.order_by(audit_log.c.id)))


async def an_org_with_fresh_usage(backend: Backend, operator: Api) -> Org:
    """A Free organization (7 days) with 30 events written now, and their rollups."""
    org = await make_org(backend.engine)
    await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "5"})
    now = utcnow()
    await write(backend, [event(org.id, now) for _ in range(30)])
    async with backend.engine.begin() as conn:
        await compact(conn, now + timedelta(minutes=1))  # through this minute
    assert await counts(backend, org) == (30, 90, 1)
    return org


async def test_operators_run_retention_through_the_api_audited(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator_person = await make_operator(backend.engine)
    operator = Api(gateway.url, operator_person.token)
    org = await an_org_with_fresh_usage(backend, operator)
    # An organization that keeps a year: on PostgreSQL no day partition is then past every
    # window, so the run deletes this organization's events row by row and counts them,
    # whichever organizations other tests left behind.
    keeper = await make_org(backend.engine)
    await operator.call("PATCH", f"/api/orgs/{keeper.id}", {"plan": "scale"})
    runs_before = len(await retention_runs(backend))
    ten_days_on = (utcnow() + timedelta(days=10)).astimezone(timezone(timedelta(hours=8)))

    # Neither the organization's admin nor its member may run it.
    for person in (org.admin, org.member):
        refused = await Api(gateway.url, person.token).post(
            "/api/retention/run", {"as_of": ten_days_on.isoformat()}
        )
        assert refused.status == 403, person.email
        assert refused.body["error"]["type"] == "permission_error"
    anonymous = await Api(gateway.url, None).post("/api/retention/run", {})
    assert anonymous.status == 401
    assert await counts(backend, org) == (30, 90, 1)
    assert len(await retention_runs(backend)) == runs_before

    ran = await operator.post("/api/retention/run", {"as_of": ten_days_on.isoformat()})
    assert ran.status == 200
    report = ran.body
    assert datetime.fromisoformat(report["as_of"]) == ten_days_on
    assert report["events_deleted_by_org"][org.id] == 30
    assert report["events_deleted"] == sum(report["events_deleted_by_org"].values())
    assert report["organizations"] == len(report["events_deleted_by_org"])
    assert await counts(backend, org) == (0, 90, 1)
    await assert_ledger_invariant(backend.engine, org.id)

    [entry] = (await retention_runs(backend))[runs_before:]
    assert (entry.actor, entry.actor_user_id, entry.ip) == (
        operator_person.email,
        operator_person.user_id,
        "127.0.0.1",
    )
    assert (entry.object_kind, entry.org_id) == ("retention_run", None)
    assert datetime.fromisoformat(entry.object_id) == ten_days_on
    assert entry.changes == {
        "as_of": [None, entry.object_id],
        "events_deleted": [None, report["events_deleted"]],
        "organizations": [None, report["organizations"]],
        "rollups_deleted": [None, report["rollups_deleted"]],
        "partitions_dropped": [None, report["partitions_dropped"]],
        "site_views_deleted": [None, report["site_views_deleted"]],
        "alert_firings_deleted": [None, report["alert_firings_deleted"]],
    }

    # Without as_of it judges from now; the command line's runs are audited too.
    started = utcnow()
    now_run = (await operator.post("/api/retention/run", {})).body
    assert started <= datetime.fromisoformat(now_run["as_of"]) <= utcnow()
    printed = await aisonar(backend, "retention", "run", "--json")
    last = (await retention_runs(backend))[-1]
    assert (last.actor, last.actor_user_id, last.object_id) == (
        "command line",
        None,
        printed["as_of"],
    )


async def test_bad_retention_runs_are_refused_and_delete_nothing(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    org = await an_org_with_fresh_usage(backend, operator)
    # An organization that keeps a year: on PostgreSQL no day partition is then past every
    # window, so the run deletes this organization's events row by row and counts them,
    # whichever organizations other tests left behind.
    keeper = await make_org(backend.engine)
    await operator.call("PATCH", f"/api/orgs/{keeper.id}", {"plan": "scale"})
    runs_before = len(await retention_runs(backend))
    ten_days_on = (utcnow() + timedelta(days=10)).isoformat()
    for bad in (
        None,
        {"as_of": "next week"},
        {"as_of": ten_days_on, "dry_run": True},
        # Too early to count a plan's window back from, or to be read in UTC at all.
        {"as_of": "0001-01-02T00:00:00Z"},
        {"as_of": "0001-01-01T00:00:00+05:00"},
    ):
        refused = await operator.post("/api/retention/run", bad)
        assert refused.status == 400, bad
        assert refused.body["error"]["type"] == "invalid_request_error", bad
        if bad is not None:
            assert refused.body["error"]["param"] in ("as_of", "dry_run"), bad
    assert await counts(backend, org) == (30, 90, 1)
    assert len(await retention_runs(backend)) == runs_before
