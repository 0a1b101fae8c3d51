"""Every command-line verb, against SQLite and PostgreSQL alike: a table by default,
JSON with --json, and a one-line reason with a non-zero exit on bad input."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from aisonar.accounts.login import password_principal
from aisonar.cli import main
from aisonar.store.tables import audit_log, notices
from tests.support import Backend, cli_environment

PASSWORD = "Quiet-Harbor-Lantern-58"
SECOND = "Copper-Lantern-Harbor-58\n"


@pytest.fixture
def aisonar(backend: Backend) -> Any:
    runner = CliRunner()
    env = cli_environment(backend)

    async def invoke(*args: str, ok: bool = True, stdin: str | None = None) -> Result:
        result = await asyncio.to_thread(
            runner.invoke, main, list(args), env=env, input=stdin, catch_exceptions=False
        )
        assert (result.exit_code == 0) is ok, result.output
        return result

    return invoke


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


async def test_organizations_users_and_keys(aisonar: Any) -> None:
    org = f"acme-{secrets.token_hex(3)}"
    email = f"alice-{secrets.token_hex(3)}@acme.io"
    created = as_json(await aisonar("org", "create", org, "--plan", "pro", "--json"))
    assert created["name"] == org and created["plan"] == "pro"
    assert org in (await aisonar("org", "list")).stdout
    assert any(o["name"] == org for o in as_json(await aisonar("org", "list", "--json")))

    await aisonar(
        "user",
        "create",
        email,
        "--org",
        org,
        "--name",
        "Alice",
        "--role",
        "org_admin",
        "--password-stdin",
        stdin="correct horse battery staple\n",
    )
    users = as_json(await aisonar("user", "list", "--org", org, "--json"))
    assert [(u["email"], u["role"], u["org_name"]) for u in users] == [(email, "org_admin", org)]
    assert "EMAIL" in (await aisonar("user", "list")).stdout

    key = as_json(
        await aisonar(
            "key",
            "create",
            email,
            "--name",
            "laptop",
            "--models",
            "gpt-4o-mini,gpt-4o",
            "--expires",
            "2099-01-01T00:00:00Z",
            "--json",
        )
    )
    assert key["secret"].startswith("sk-sonar-") and len(key["secret"]) > 40
    assert key["models"] == ["gpt-4o", "gpt-4o-mini"]
    listed = as_json(await aisonar("key", "list", email, "--json"))
    assert [k["id"] for k in listed] == [key["id"]]
    assert (
        "secret" not in listed[0]
        and key["secret"] not in (await aisonar("key", "list", email)).stdout
    )

    revoked = as_json(await aisonar("key", "revoke", key["id"], "--json"))
    assert revoked["revoked_at"] is not None
    again = await aisonar("key", "revoke", key["id"], ok=False)
    assert "already revoked" in again.output


async def test_channels(aisonar: Any) -> None:
    name = f"up-{secrets.token_hex(3)}"
    created = as_json(
        await aisonar(
            "channel",
            "create",
            name,
            "--provider",
            "openai",
            "--base-url",
            "https://api.example.com/v1/",
            "--api-key",
            "sk-cli-secret-123",
            "--models",
            "a,b,alias=upstream-x",
            "--json",
        )
    )
    assert created["models"] == {"a": "a", "b": "b", "alias": "upstream-x"}
    assert created["base_url"] == "https://api.example.com/v1"
    table = (await aisonar("channel", "list")).stdout
    assert name in table and "sk-cli-secret-123" not in table


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("org", "create", "  "), "must not be empty"),
        (("user", "create", "not-an-email", "--org", "x"), "not an email"),
        (("user", "create", "bob@example.com", "--org", "no-such-org"), "no organization"),
        (("key", "create", "nobody@example.com"), "no user"),
        (("key", "create", "nobody@example.com", "--expires", "tomorrow"), "ISO 8601"),
        (("key", "revoke", "key_missing"), "no key"),
        (
            (
                "channel",
                "create",
                "c",
                "--provider",
                "openai",
                "--base-url",
                "ftp://x",
                "--api-key",
                "k",
                "--models",
                "a",
            ),
            "http(s) URL",
        ),
        (
            (
                "channel",
                "create",
                "c",
                "--provider",
                "openai",
                "--base-url",
                "http://x",
                "--api-key",
                "k",
                "--models",
                "alias=",
            ),
            "bad model entry",
        ),
        (("usage", "export", "--since", "yesterday"), "ISO 8601"),
    ],
)
async def test_bad_input_exits_non_zero_with_one_line(
    aisonar: Any, args: tuple[str, ...], reason: str
) -> None:
    result = await aisonar(*args, ok=False)
    assert reason in result.output
    assert "Traceback" not in result.output


async def test_duplicate_organization_is_refused(aisonar: Any) -> None:
    org = f"dup-{secrets.token_hex(3)}"
    await aisonar("org", "create", org)
    assert "already exists" in (await aisonar("org", "create", org, ok=False)).output


async def test_weak_password_is_refused(aisonar: Any) -> None:
    org = f"pw-{secrets.token_hex(3)}"
    await aisonar("org", "create", org)
    result = await aisonar(
        "user",
        "create",
        f"{org}@example.com",
        "--org",
        org,
        "--password-stdin",
        stdin="short\n",
        ok=False,
    )
    assert "at least" in result.output


async def test_migrate_is_idempotent(aisonar: Any) -> None:
    assert "up to date" in (await aisonar("migrate")).stdout
    assert "up to date" in (await aisonar("migrate")).stdout


async def test_lists_page_in_sql_when_asked(aisonar: Any) -> None:
    made = [
        as_json(await aisonar("org", "create", f"paged-{secrets.token_hex(3)}", "--json"))
        for _ in range(3)
    ]
    first, second, third = (org["id"] for org in made)
    page = await aisonar("org", "list", "--after", first, "--limit", "1", "--json")
    assert [org["id"] for org in as_json(page)] == [second]
    assert page.stderr.strip() == f"more: --after {second}"
    last = await aisonar("org", "list", "--after", second, "--limit", "5")
    assert made[2]["name"] in last.stdout and "more:" not in last.stderr
    assert third in (await aisonar("org", "list", "--after", second, "--json")).stdout

    org = made[0]["name"]
    emails = [f"paged-{n}-{secrets.token_hex(3)}@acme.io" for n in range(3)]
    for email in emails:
        await aisonar("user", "create", email, "--org", org)
    users = as_json(await aisonar("user", "list", "--org", org, "--limit", "2", "--json"))
    assert [user["email"] for user in users] == emails[:2]
    rest = await aisonar("user", "list", "--org", org, "--after", users[1]["id"], "--json")
    assert [user["email"] for user in as_json(rest)] == emails[2:] and not rest.stderr

    keys = [as_json(await aisonar("key", "create", emails[0], "--json"))["id"] for _ in range(3)]
    paged = await aisonar("key", "list", emails[0], "--limit", "2", "--json")
    assert [key["id"] for key in as_json(paged)] == keys[:2]
    assert paged.stderr.strip() == f"more: --after {keys[1]}"
    unknown = await aisonar("key", "list", emails[0], "--after", "key_nothing", ok=False)
    assert "after" in unknown.output


async def test_an_operator_sets_a_password_from_the_command_line(
    aisonar: Any, backend: Backend
) -> None:
    org = f"setpw-{secrets.token_hex(3)}"
    email = f"{org}@example.com"
    await aisonar("org", "create", org)
    made = as_json(await aisonar("user", "create", email, "--org", org, "--json"))
    assert made["password_set"] is False
    weak = await aisonar("user", "update", email, "--password-stdin", stdin="short\n", ok=False)
    assert "at least" in weak.output
    changed = as_json(
        await aisonar("user", "update", email, "--password-stdin", "--json", stdin=f"{PASSWORD}\n")
    )
    assert changed["password_set"] is True and changed["name"] == ""
    # With another change, both happen.
    renamed = as_json(
        await aisonar(
            "user", "update", email, "--name", "Set", "--password-stdin", "--json", stdin=SECOND
        )
    )
    assert renamed["name"] == "Set"
    async with backend.engine.connect() as conn:
        assert await password_principal(conn, email, SECOND.strip()) is not None
        entries = list(
            await conn.execute(
                select(audit_log.c.actor, audit_log.c.changes).where(
                    audit_log.c.action == "user.password_set",
                    audit_log.c.object_id == made["id"],
                )
            )
        )
        told = list(
            await conn.execute(
                select(notices.c.data).where(
                    notices.c.user_id == made["id"], notices.c.kind == "password_changed"
                )
            )
        )
    assert [entry.actor for entry in entries] == ["command line", "command line"]
    assert entries[0].changes == {"password_set": [False, True], "sessions_ended": [None, 0]}
    assert [row.data for row in told] == [{"sessions_ended": 0, "by_admin": True}] * 2
