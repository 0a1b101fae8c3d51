"""Evaluation on real rollups: the minimum-volume guard keeps a rule where it is, filters
narrow what counts, long windows read hour rollups, a disabled rule is left alone, two
evaluators racing raise one notice, and each server's own task evaluates on its timer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aisonar.alerts.evaluation import evaluate_alerts, evaluate_rule
from aisonar.alerts.models import AlertKind, AlertRule, AlertState, RuleSettings
from aisonar.alerts.services import create_rule, update_rule
from aisonar.clock import utcnow
from aisonar.testing.gateway_server import running_gateway
from aisonar.usage.compaction import compact
from tests.alerts.traffic import alert_notices, current, requests, this_minute
from tests.api.people import make_org
from tests.support import Backend


async def rule_of(backend: Backend, org_id: str, settings: RuleSettings) -> AlertRule:
    async with backend.engine.begin() as conn:
        return await create_rule(conn, org_id, settings)


async def test_one_failed_request_of_one_does_not_fire_an_error_rate_rule(
    backend: Backend,
) -> None:
    org = await make_org(backend.engine)
    rule = await rule_of(backend, org.id, RuleSettings(AlertKind.ERROR_RATE, "0.05"))
    assert rule.min_requests == 20
    now = this_minute()
    await requests(backend, org.id, now - timedelta(minutes=1), 1, status_code=500)
    await evaluate_alerts(backend.engine, now)
    assert (await current(backend, rule.id)).state is AlertState.OK
    assert await alert_notices(backend, org.id) == []


async def test_below_the_minimum_volume_a_firing_rule_does_not_resolve(backend: Backend) -> None:
    org = await make_org(backend.engine)
    settings = RuleSettings(AlertKind.LATENCY, "1000", min_requests=10)
    rule = await rule_of(backend, org.id, settings)
    now = this_minute()
    await requests(backend, org.id, now - timedelta(minutes=3), 10, latency_ms=5000)
    await evaluate_alerts(backend.engine, now)
    assert (await current(backend, rule.id)).state is AlertState.FIRING
    # Twenty minutes on, the window holds nine fast requests: too few to say it is over.
    later = now + timedelta(minutes=20)
    await requests(backend, org.id, later - timedelta(minutes=1), 9, latency_ms=50)
    await evaluate_alerts(backend.engine, later)
    assert (await current(backend, rule.id)).state is AlertState.FIRING
    # A tenth makes it enough.
    await requests(backend, org.id, later, 1, latency_ms=50)
    await evaluate_alerts(backend.engine, later)
    assert [n.kind for n in await alert_notices(backend, org.id)] == [
        "alert_firing",
        "alert_resolved",
    ]


async def test_only_the_chosen_model_and_source_count(backend: Backend) -> None:
    org = await make_org(backend.engine)
    now = this_minute()
    narrow = await rule_of(
        backend,
        org.id,
        RuleSettings(AlertKind.COST, "0.005", model="gpt-4o", source="ingest"),
    )
    broad = await rule_of(backend, org.id, RuleSettings(AlertKind.COST, "0.005"))
    await requests(backend, org.id, now, 10, requested_model="gpt-4o")
    await requests(backend, org.id, now, 10, source="ingest")
    await evaluate_alerts(backend.engine, now)
    assert (await current(backend, narrow.id)).state is AlertState.OK
    assert (await current(backend, broad.id)).state is AlertState.FIRING
    await requests(backend, org.id, now, 10, requested_model="gpt-4o", source="ingest")
    await evaluate_alerts(backend.engine, now)
    assert (await current(backend, narrow.id)).state is AlertState.FIRING


async def test_a_window_of_days_reads_hour_rollups(backend: Backend) -> None:
    org = await make_org(backend.engine)
    rule = await rule_of(backend, org.id, RuleSettings(AlertKind.COST, "0.015", window="1d"))
    now = this_minute()
    # Five hours ago (the writer adds such late events to their hour at once), and ten
    # minutes ago (in its hour once compaction has run).
    await requests(backend, org.id, now - timedelta(hours=5), 10)
    await requests(backend, org.id, now - timedelta(minutes=10), 10)
    async with backend.engine.begin() as conn:
        await compact(conn, now)
    await evaluate_alerts(backend.engine, now)
    [fired] = await alert_notices(backend, org.id)
    assert (fired.data["observed"], fired.data["window"], fired.data["requests"]) == (
        "0.02",
        "1d",
        20,
    )
    assert (await current(backend, rule.id)).state is AlertState.FIRING


async def test_a_disabled_rule_is_not_evaluated_and_disabling_ends_firing(
    backend: Backend,
) -> None:
    org = await make_org(backend.engine)
    rule = await rule_of(backend, org.id, RuleSettings(AlertKind.BALANCE, "1"))
    now = this_minute()
    await evaluate_alerts(backend.engine, now)
    assert (await current(backend, rule.id)).state is AlertState.FIRING
    async with backend.engine.begin() as conn:
        await update_rule(conn, rule.id, {"enabled": False})
    disabled = await current(backend, rule.id)
    assert (disabled.state, disabled.enabled) == (AlertState.OK, False)
    assert abs(disabled.state_changed_at - utcnow()) < timedelta(seconds=5)
    await evaluate_alerts(backend.engine, now + timedelta(minutes=1))
    assert (await current(backend, rule.id)).state is AlertState.OK
    # An evaluation that read the rule before the edit changes nothing.
    assert not await evaluate_rule(backend.engine, rule, now + timedelta(minutes=2))
    assert [n.kind for n in await alert_notices(backend, org.id)] == ["alert_firing"]


async def test_evaluators_racing_raise_exactly_one_notice(backend: Backend) -> None:
    org = await make_org(backend.engine)
    now = this_minute()
    await requests(backend, org.id, now, 30, status_code=503)
    rule = await rule_of(backend, org.id, RuleSettings(AlertKind.ERROR_RATE, "0.5"))
    # Both read the rule ok, both find it firing: one changes it.
    changed = await asyncio.gather(
        evaluate_rule(backend.engine, rule, now), evaluate_rule(backend.engine, rule, now)
    )
    assert sorted(changed) == [False, True]
    # And two whole rounds at once on another rule.
    other = await rule_of(backend, org.id, RuleSettings(AlertKind.BALANCE, "3"))
    await asyncio.gather(*(evaluate_alerts(backend.engine, now) for _ in range(2)))
    notices = await alert_notices(backend, org.id)
    assert sorted(n.data["rule_id"] for n in notices) == sorted([rule.id, other.id])
    assert (await current(backend, rule.id)).revision == 1


async def test_each_server_evaluates_on_its_own_timer(backend: Backend) -> None:
    org = await make_org(backend.engine)
    rule = await rule_of(backend, org.id, RuleSettings(AlertKind.BALANCE, "2"))
    settings = backend.settings.model_copy(update={"alert_interval_s": 0.05})
    async with running_gateway(settings):
        for _ in range(200):
            if await alert_notices(backend, org.id):
                break
            await asyncio.sleep(0.05)
    [fired] = await alert_notices(backend, org.id)
    assert (fired.kind, fired.data["observed"]) == ("alert_firing", "0.00")
    assert (await current(backend, rule.id)).state is AlertState.FIRING
