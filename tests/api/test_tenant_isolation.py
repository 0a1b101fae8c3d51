"""Tenant isolation, proven by walking the whole OpenAPI document: as a user and as an
org admin of organization A, every operation aimed at organization B's resources is
refused (403 or 404), nothing of B's is changed, and no answer mentions B."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.abuse.findings import record_finding
from aisonar.abuse.models import FindingKind, Signal, SubjectKind
from aisonar.accounts import tokens
from aisonar.alerts.models import AlertKind, RuleSettings
from aisonar.alerts.services import create_rule
from aisonar.clock import new_id, utcnow
from aisonar.crypto import SecretBox
from aisonar.notify import webhooks
from aisonar.privacy.consents import Purpose, record_choice
from aisonar.store.tables import (
    abuse_findings,
    access_tokens,
    alert_rules,
    api_keys,
    consents,
    deletion_requests,
    ledger_entries,
    organizations,
    password_resets,
    policy_acknowledgements,
    rate_limits,
    support_messages,
    support_requests,
    users,
    webhook_endpoints,
)
from aisonar.support import services as support
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, Org, make_org
from tests.support import Backend

# A valid body for each request schema: a refusal must come from the tenancy check, not
# from bad input. A new schema without one here fails the walk until it is added.
BODIES: dict[str, dict[str, Any]] = {
    "OrgCreate": {"name": "taken-over"},
    "UserCreate": {"email": "intruder@example.com"},
    "KeyCreate": {"name": "intruder"},
    "TokenCreate": {"name": "intruder"},
    "KeyRotate": {"grace_s": 0},
    "LimitsIn": {"rpm": 5, "daily_spend": "1"},
    "Recharge": {"amount": "1000"},
    "CodeRequest": {"amount": "1000", "count": 1},
    "ChannelCreate": {
        "name": "hijack",
        "provider": "openai",
        "api_key": "sk-x",
        "models": "gpt-4o-mini",
    },
    "ChannelChange": {"weight": 5},
    "PriceIn": {"input": "0", "output": "0"},
    "MarkupIn": {"multiplier": "0.01"},
    "OrgChange": {"plan": "scale"},
    "UserChange": {"role": "org_admin"},
    "NotificationSettingsChange": {"language": "zh-Hans"},
    "KeyAllowedIps": {"allowed_ips": ["203.0.113.0/24"]},
    "SignUp": {
        "email": "intruder@example.com",
        "password": "Quiet-Otter-Lantern-7",
        "name": "Intruder",
        "company": "taken-over",
        "age_confirmed": True,
    },
    "SignIn": {"email": "intruder@example.com", "password": "Quiet-Otter-Lantern-7"},
    "PasswordChange": {"current_password": "wrong", "new_password": "Quiet-Otter-Lantern-7"},
    "EmailChange": {"email": "intruder@example.com", "password": "Quiet-Otter-Lantern-7"},
    "EmailVerify": {"token": "sonar-email-intruder"},
    "WebhookCreate": {"url": "https://example.com/hijack"},
    "ChannelTestIn": {},
    "PlanChange": {"retention_days": 1},
    "ProfileChange": {"name": "Intruder"},
    "RetentionRunIn": {},
    "AlertCreate": {"kind": "cost", "threshold": "1"},
    "AlertChange": {"threshold": "1000", "enabled": False},
    # People in these tests have no password: a request is refused before it disables them.
    "DeletionAsk": {"password": "Quiet-Otter-Lantern-7"},
    "DeletionApprove": {},
    "DeletionReject": {"reason": "intruder"},
    "SupportOpen": {"subject": "intruder", "body": "intruder"},
    "SupportMessageIn": {"body": "intruder"},
    "CookieConsentIn": {"analytics": False},
    "PageViewIn": {"path": "/intruder"},
    "PolicyIn": {"kind": "terms", "body": "intruder"},
    "ConsentChange": {"granted": True},
    "ResetRequest": {"email": "intruder@example.com"},
    "ResetConfirm": {"token": "sonar-reset-intruder", "new_password": "Quiet-Otter-Lantern-7"},
    "Reauthenticate": {"password": "Quiet-Otter-Lantern-7"},
    "MarkRead": {"through_id": 1},
}


async def snapshot(engine: AsyncEngine, org: Org) -> list[Any]:
    async with engine.connect() as conn:
        rows: list[Any] = []
        for table, column in (
            (organizations, organizations.c.id),
            (users, users.c.org_id),
            (api_keys, api_keys.c.org_id),
            (ledger_entries, ledger_entries.c.org_id),
            (webhook_endpoints, webhook_endpoints.c.org_id),
            (alert_rules, alert_rules.c.org_id),
            (deletion_requests, deletion_requests.c.org_id),
            (support_requests, support_requests.c.org_id),
            (abuse_findings, abuse_findings.c.org_id),
        ):
            rows += list(await conn.execute(select(table).where(column == org.id)))
        theirs = select(support_requests.c.id).where(support_requests.c.org_id == org.id)
        rows += list(
            await conn.execute(
                select(support_messages).where(support_messages.c.request_id.in_(theirs))
            )
        )
        members = [org.admin.user_id, org.member.user_id]
        subjects = [org.id, *members, org.admin.key_id, org.member.key_id]
        rows += list(
            await conn.execute(
                select(rate_limits).where(or_(*(rate_limits.c.subject_id == s for s in subjects)))
            )
        )
        for table in (access_tokens, consents, policy_acknowledgements, password_resets):
            rows += list(
                await conn.execute(
                    select(table).where(or_(*(table.c.user_id == m for m in members)))
                )
            )
    return rows


def body_for(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return None
    schema = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema in BODIES, f"add a valid {schema} body to BODIES"
    return BODIES[schema]


async def test_no_operation_reaches_another_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    a, b = await make_org(backend.engine), await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        [b_token] = await tokens.list_tokens(conn, b.member.user_id)
        b_hook, _ = await webhooks.create_endpoint(
            conn, SecretBox(backend.settings.resolved_secret_key()), b.id, "https://example.com/b"
        )
        b_alert = await create_rule(conn, b.id, RuleSettings(AlertKind.COST, "5"))
        b_deletion = new_id("del")
        await conn.execute(
            deletion_requests.insert().values(
                id=b_deletion,
                user_id=b.member.user_id,
                org_id=b.id,
                requested_at=utcnow(),
                status="requested",
            )
        )
        b_support = await support.open_request(conn, b.member.user_id, "B's", "B's question")
        b_finding = await record_finding(
            conn,
            Signal(
                FindingKind.KEY_SHARING,
                SubjectKind.KEY,
                b.member.key_id,
                {"addresses": 50},
                window_start=utcnow(),
                org_id=b.id,
                user_id=b.member.user_id,
            ),
        )
        assert b_finding is not None
        await record_choice(conn, b.member.user_id, Purpose.ANALYTICS, True)
    b_params = {
        "org_id": b.id,
        "user_id": b.member.user_id,
        "key_id": b.member.key_id,
        "token_id": b_token.id,
        "kind": "user",
        "subject_id": b.member.user_id,
        "name": "fake",
        "model": "gpt-4o-mini",
        "plan": "free",
        "endpoint_id": b_hook.id,
        "alert_id": b_alert.id,
        "request_id": b_deletion,
        "support_id": b_support.id,
        "finding_id": b_finding.id,
        # Policies and consent purposes belong to no organization: these name none, and
        # /api/me/... acts on the caller alone (B's consents are in the snapshot).
        "policy_id": "pol_intruder",
        "purpose": "intruder",
        "batch": "batch_intruder",
    }
    b_marks = {b.id, b.name, b.member.email, b.admin.email, b.member.user_id, b.member.key_id}
    document = (await Api(gateway.url, None).get("/api/openapi.json")).body
    before = await snapshot(backend.engine, b)
    walked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            target = path.format(**{name: b_params[name] for name in params})
            for caller in (a.member, a.admin):
                answer = await Api(gateway.url, caller.token).call(
                    method.upper(), target, body_for(operation)
                )
                where = f"{method.upper()} {target} as {caller.email}"
                # With B's ids in the path: refused. Without: the caller's own things or a
                # collection, answered as it may be, but never with B in it.
                if params:
                    assert answer.status in (403, 404), where
                assert answer.status < 500, where
                # (An error may repeat the id it was asked for, which tells nothing.)
                told = json.dumps(answer.body)
                assert not any(m in told and m not in target for m in b_marks), where
                walked += 1
    assert walked >= 2 * 15
    assert await snapshot(backend.engine, b) == before
