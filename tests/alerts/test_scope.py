"""A rule that watches one end user of the organization's application, or one value of a
custom property, on real usage events: others' usage does not count, theirs does; the
scope is checked as the gateway keeps attribution, and only rules with a window take
one; forgetting the end user deletes the rules that watch them."""

from __future__ import annotations

from datetime import timedelta

from aisonar.alerts.evaluation import evaluate_rule
from aisonar.alerts.models import AlertKind, AlertState, RuleSettings
from aisonar.alerts.services import create_rule, list_rules
from aisonar.audit.models import COMMAND_LINE
from aisonar.privacy.end_users import forget_end_user
from aisonar.testing.gateway_server import RunningGateway
from tests.alerts.traffic import alert_notices, current, requests, this_minute
from tests.api.people import Api, make_org
from tests.support import Backend


async def test_a_rule_on_one_end_user_or_property_counts_theirs_alone(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    made = {}
    for scope in ({"end_user": "alice"}, {"property": "Feature=chat"}):
        answer = await admin.post(
            f"/api/orgs/{org.id}/alerts", {"kind": "cost", "threshold": "0.01", **scope}
        )
        assert answer.status == 201, answer.body
        made[next(iter(scope))] = answer.body
    assert made["end_user"]["end_user"] == "alice"
    assert made["property"]["property"] == "feature=chat"
    now = this_minute()
    at = now - timedelta(minutes=5)
    # 0.02 credits each, of others: neither fires.
    await requests(backend, org.id, at, 20, end_user="bob", properties='{"feature": "search"}')
    for body in made.values():
        rule = await current(backend, body["id"])
        assert not await evaluate_rule(backend.engine, rule, now)
    await requests(backend, org.id, at, 20, end_user="alice")
    await requests(backend, org.id, at, 20, properties='{"feature": "chat"}')
    for body in made.values():
        assert await evaluate_rule(backend.engine, await current(backend, body["id"]), now)
        assert (await current(backend, body["id"])).state is AlertState.FIRING
    fired = {n.data["rule_id"]: n.data for n in await alert_notices(backend, org.id)}
    assert fired[made["end_user"]["id"]]["observed"] == "0.02"
    assert fired[made["end_user"]["id"]]["end_user"] == "alice"
    assert fired[made["property"]["id"]]["property"] == "feature=chat"

    lifted = await admin.call("PATCH", f"/api/alerts/{made['end_user']['id']}", {"end_user": None})
    assert lifted.status == 200 and lifted.body["end_user"] is None
    for body, says in (
        ({"kind": "cost", "threshold": "1", "property": "no equals"}, "property is name=value"),
        ({"kind": "cost", "threshold": "1", "property": "bad name=x"}, "property is name=value"),
        ({"kind": "cost", "threshold": "1", "end_user": " "}, "end_user is 1 to 200"),
        ({"kind": "balance", "threshold": "1", "end_user": "alice"}, "end_user applies to"),
        ({"kind": "forecast", "threshold": "3", "property": "a=b"}, "property applies to"),
    ):
        answer = await admin.post(f"/api/orgs/{org.id}/alerts", body)
        assert answer.status == 400 and says in answer.body["error"]["message"], answer.body


async def test_forgetting_an_end_user_deletes_the_rules_watching_them(backend: Backend) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        theirs = await create_rule(
            conn, org.id, RuleSettings(AlertKind.COST, "1", end_user="carol")
        )
        kept = await create_rule(conn, org.id, RuleSettings(AlertKind.COST, "1"))
        await forget_end_user(conn, COMMAND_LINE, org.id, "carol")
    async with backend.engine.connect() as conn:
        assert [rule.id for rule in await list_rules(conn, org.id)] == [kept.id]
    assert theirs.end_user == "carol"
