"""`aisonar limits set|show`: one subject at a time, only the given limits change,
`none` removes one, bad input changes nothing, and `show` lists every limit that
applies with the level it is set on; against SQLite and PostgreSQL alike.

The commands run in a thread so that the session's event loop keeps running. Each test
puts its organization on a plan of its own, so that its limits reach no other test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import openai
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from aisonar.cli import main
from aisonar.store.changes import KEY_ENTITY
from aisonar.store.tables import change_log
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, cli_environment, own_plan, recorded_events

Invoke = Callable[..., Awaitable[Result]]
NO_LIMITS = {
    "rpm": None,
    "tpm": None,
    "concurrent": None,
    "daily_spend": None,
    "monthly_spend": None,
}


@pytest.fixture
def aisonar(backend: Backend) -> Invoke:
    env = cli_environment(backend)

    async def invoke(*args: str, ok: bool = True) -> Result:
        result = await asyncio.to_thread(
            CliRunner().invoke, main, list(args), env=env, catch_exceptions=False
        )
        assert (result.exit_code == 0) is ok, result.output
        if not ok:
            assert "Traceback" not in result.output
        return result

    return invoke


@pytest.fixture
async def plan(backend: Backend, tenant: Tenant) -> str:
    """A fresh plan, with the tenant's organization on it."""
    return await own_plan(backend, tenant)


async def shown(aisonar: Invoke, *subject: str) -> Any:
    return json.loads((await aisonar("limits", "show", *subject, "--json")).stdout)


def own(record: dict[str, Any]) -> dict[str, Any]:
    return {name: record[name] for name in NO_LIMITS}


async def key_changes(backend: Backend) -> int:
    async with backend.engine.connect() as conn:
        query = (
            select(func.count())
            .select_from(change_log)
            .where(change_log.c.entity == KEY_ENTITY, change_log.c.entity_id == "*")
        )
        return int((await conn.execute(query)).scalar_one())


def subject_args(tenant: Tenant, plan: str) -> dict[str, tuple[str, str]]:
    return {
        "org": ("--org", tenant.org_name),
        "user": ("--user", tenant.email),
        "key": ("--key", tenant.key_id),
        "plan": ("--plan", plan),
    }


@pytest.mark.parametrize("kind", ["org", "user", "key", "plan"])
async def test_set_and_show_each_subject(
    aisonar: Invoke, backend: Backend, tenant: Tenant, plan: str, kind: str
) -> None:
    subject = subject_args(tenant, plan)[kind]
    assert own(await shown(aisonar, *subject)) == NO_LIMITS
    before = await key_changes(backend)
    written = json.loads(
        (
            await aisonar(
                "limits",
                "set",
                *subject,
                "--rpm",
                "60",
                "--tpm",
                "100000",
                "--concurrent",
                "4",
                "--daily-spend",
                "12.5",
                "--monthly-spend",
                "0.000001",
                "--json",
            )
        ).stdout
    )
    expected = {
        "rpm": 60,
        "tpm": 100_000,
        "concurrent": 4,
        "daily_spend": "12.50",
        "monthly_spend": "0.000001",
    }
    assert own(written) == expected
    assert (written["subject"], written["name"]) == (kind, subject[1])
    assert await key_changes(backend) == before + 1
    record = await shown(aisonar, *subject)
    assert own(record) == expected
    # The subject's own limits are among those that apply to it, at its own level.
    mine = [entry for entry in record["effective"] if entry["level"] == kind]
    assert {entry["dimension"]: entry["limit"] for entry in mine} == expected

    table = (await aisonar("limits", "show", *subject)).stdout
    assert "12.50" in table and "0.000001" in table and "DIMENSION" in table


async def test_only_given_limits_change_and_none_removes_one(
    aisonar: Invoke, backend: Backend, tenant: Tenant
) -> None:
    key = ("--key", tenant.key_id)
    await aisonar("limits", "set", *key, "--rpm", "10", "--daily-spend", "3")
    await aisonar("limits", "set", *key, "--tpm", "500")
    assert own(await shown(aisonar, *key)) == {
        **NO_LIMITS,
        "rpm": 10,
        "tpm": 500,
        "daily_spend": "3.00",
    }
    before = await key_changes(backend)
    await aisonar("limits", "set", *key, "--rpm", "none", "--daily-spend", "None")
    assert own(await shown(aisonar, *key)) == {**NO_LIMITS, "tpm": 500}
    assert await key_changes(backend) == before + 1
    await aisonar("limits", "set", *key, "--tpm", "none")
    assert own(await shown(aisonar, *key)) == NO_LIMITS


async def test_show_lists_every_level_with_the_plan_as_default(
    aisonar: Invoke, tenant: Tenant, plan: str
) -> None:
    await aisonar("limits", "set", "--plan", plan, "--rpm", "5", "--concurrent", "2")
    await aisonar("limits", "set", "--org", tenant.org_name, "--rpm", "100")
    await aisonar("limits", "set", "--user", tenant.email, "--tpm", "9000")
    await aisonar("limits", "set", "--key", tenant.key_id, "--rpm", "20", "--monthly-spend", "50")
    record = await shown(aisonar, "--key", tenant.key_id)
    assert [
        (entry["dimension"], entry["limit"], entry["level"], entry["subject"])
        for entry in record["effective"]
    ] == [
        ("rpm", 20, "key", tenant.key_id),
        ("rpm", 100, "org", tenant.org_name),  # replaces the plan's 5
        ("tpm", 9000, "user", tenant.email),
        ("concurrent", 2, "plan", plan),
        ("monthly_spend", "50.00", "key", tenant.key_id),
    ]
    for_user = await shown(aisonar, "--user", tenant.email)
    assert {entry["level"] for entry in for_user["effective"]} == {"user", "org", "plan"}
    for_org = await shown(aisonar, "--org", tenant.org_name)
    assert [(e["dimension"], e["level"]) for e in for_org["effective"]] == [
        ("rpm", "org"),
        ("concurrent", "plan"),
    ]
    # Without the organization's own rpm, the plan's applies.
    await aisonar("limits", "set", "--org", tenant.org_name, "--rpm", "none")
    record = await shown(aisonar, "--key", tenant.key_id)
    assert ("rpm", 5, "plan") in [
        (entry["dimension"], entry["limit"], entry["level"]) for entry in record["effective"]
    ]
    table = (await aisonar("limits", "show", "--key", tenant.key_id)).stdout
    assert "applies" in table and plan in table and tenant.email in table


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--rpm", "0"), "greater than zero"),
        (("--rpm", "-3"), "rpm"),
        (("--tpm", "lots"), "whole number"),
        (("--concurrent", "2.5"), "whole number"),
        (("--daily-spend", "0"), "greater than zero"),
        (("--daily-spend", "-1"), "daily_spend"),
        (("--monthly-spend", "ten"), "not a decimal"),
        (("--monthly-spend", "1.0000001"), "six decimal"),
        ((), "at least one"),
    ],
)
async def test_bad_values_change_nothing(
    aisonar: Invoke, backend: Backend, tenant: Tenant, args: tuple[str, ...], reason: str
) -> None:
    key = ("--key", tenant.key_id)
    await aisonar("limits", "set", *key, "--rpm", "7", "--daily-spend", "1")
    before = (await shown(aisonar, *key), await key_changes(backend))
    result = await aisonar("limits", "set", *key, *args, ok=False)
    assert reason in result.output
    assert (await shown(aisonar, *key), await key_changes(backend)) == before


async def test_exactly_one_known_subject(aisonar: Invoke, backend: Backend, tenant: Tenant) -> None:
    before = await key_changes(backend)
    none_given = await aisonar("limits", "set", "--rpm", "5", ok=False)
    assert "exactly one" in none_given.output
    two = await aisonar(
        "limits", "set", "--org", tenant.org_name, "--key", tenant.key_id, "--rpm", "5", ok=False
    )
    assert "exactly one" in two.output
    assert "exactly one" in (await aisonar("limits", "show", ok=False)).output
    for flag, missing, reason in (
        ("--org", "no-such-org", "no organization"),
        ("--user", "nobody@example.com", "no user"),
        ("--key", "key_0000", "no key"),
        ("--plan", "gold", "no plan"),
    ):
        assert (
            reason in (await aisonar("limits", "set", flag, missing, "--rpm", "5", ok=False)).output
        )
        assert reason in (await aisonar("limits", "show", flag, missing, ok=False)).output
    assert own(await shown(aisonar, "--org", tenant.org_name)) == NO_LIMITS
    assert own(await shown(aisonar, "--key", tenant.key_id)) == NO_LIMITS
    assert await key_changes(backend) == before


async def test_show_tells_what_each_spend_quota_has_spent_this_period(
    aisonar: Invoke, backend: Backend, tenant: Tenant, gateway: RunningGateway
) -> None:
    await aisonar("limits", "set", "--key", tenant.key_id, "--daily-spend", "1", "--rpm", "9")
    await aisonar("limits", "set", "--user", tenant.email, "--monthly-spend", "20")
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as client:
        await client.chat.completions.create(
            model="metered-model",
            messages=[{"role": "user", "content": "one two three four five six"}],
            max_tokens=4,
        )
    await recorded_events(backend, tenant, 1)
    record = await shown(aisonar, "--key", tenant.key_id)
    spent = {(e["dimension"], e["level"]): e["spent"] for e in record["effective"]}
    # Four output tokens of metered-model: 0.004.
    assert spent[("daily_spend", "key")] == "0.004"
    assert spent[("monthly_spend", "user")] == "0.004"
    assert spent[("rpm", "key")] is None
