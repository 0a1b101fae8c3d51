"""schemathesis against `/api/openapi.json`: generated requests to every operation, as
an operator and as a user (an organization's member), on a gateway with a database of
its own, SQLite and PostgreSQL (whose 32-bit ids and refusal of NUL characters SQLite
does not share). No answer is a 500, and every answer matches the document (status,
content type, schema). How many cases each operation was sent, and its answers, are
printed (`pytest -s`)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from aisonar.accounts import services as accounts
from aisonar.accounts import tokens
from aisonar.config import Settings
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import free_port
from tests.conftest import BACKENDS, POSTGRES_URL, TEST_SECRET_KEY
from tests.mailbox import Mailbox
from tests.support import Backend, start_gateway_process

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)
EXAMPLES = {Role.OPERATOR: "10", Role.USER: "5"}


@asynccontextmanager
async def database_of_its_own(database: str, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings for a database no other test uses: a new SQLite file, or a PostgreSQL
    database beside the tests' own, dropped afterwards."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if database == "sqlite":
        yield Settings(data_dir=data_dir, secret_key=TEST_SECRET_KEY)
        return
    assert POSTGRES_URL
    url = make_url(Settings(database_url=POSTGRES_URL).resolved_database_url)
    name = f"{url.database}_openapi_fuzz"
    engine = create_engine(url.render_as_string(hide_password=False))
    server = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        own = url.set(database=name).render_as_string(hide_password=False)
        yield Settings(data_dir=data_dir, database_url=own, secret_key=TEST_SECRET_KEY)
        async with server.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def token_of(settings: Settings, role: Role) -> str:
    """An access token of someone with the role, in an organization of their own."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            await accounts.create_org(conn, "fuzz")
            await accounts.create_user(conn, "fuzz@fuzz.example", "fuzz", role=role)
            _, secret = await tokens.create_token(conn, "fuzz@fuzz.example")
    finally:
        await engine.dispose()
    return secret


def answers_by_operation(report: Path) -> dict[str, Counter[str]]:
    """From schemathesis's NDJSON events: each operation's answers, by status class."""
    answers: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for line in report.read_text().splitlines():
        scenario = json.loads(line).get("ScenarioFinished")
        if scenario is None:
            continue
        recorder = scenario["recorder"]
        for interaction in recorder.get("interactions", {}).values():
            status = interaction["response"]["status_code"]
            answers[recorder["label"]][f"{status // 100}xx"] += 1
    return answers


@pytest.mark.parametrize("database", BACKENDS)
@pytest.mark.parametrize("role", [Role.OPERATOR, Role.USER], ids=str)
async def test_generated_requests_find_no_500_and_no_answer_off_the_document(
    tmp_path: Path, mailbox: Mailbox, database: str, role: Role
) -> None:
    async with database_of_its_own(database, tmp_path) as settings:
        secret = await token_of(settings, role)
        port = free_port()
        server = await start_gateway_process(
            Backend(database, settings, create_engine(settings.resolved_database_url)),
            port,
            # With email, so that what mails (an invitation) is reached, not refused.
            extra_env={"AISONAR_SMTP_URL": mailbox.url},
        )
        try:
            fuzz = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"http://127.0.0.1:{port}/api/openapi.json",
                "--checks",
                CHECKS,
                "--header",
                f"Authorization: Bearer {secret}",
                "--max-examples",
                EXAMPLES[role],
                "--seed",
                "7",
                "--phases",
                "examples,coverage,fuzzing",
                # One worker: CPython 3.11's ast.parse is not thread-safe, and hypothesis
                # calls it to describe filters ("AST constructor recursion depth mismatch").
                "--workers",
                "1",
                # It would revoke the very token it runs with (it reuses ids it has seen).
                "--exclude-operation-id",
                "revoke_my_token_api_me_tokens__token_id__delete",
                "--report",
                "ndjson",
                "--report-ndjson-path",
                str(tmp_path / "report.ndjson"),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                # Its cache of crashes stays out of the checkout.
                cwd=tmp_path,
            )
            output, _ = await fuzz.communicate()
        finally:
            server.send_signal(signal.SIGTERM)
            await server.wait()
    answers = answers_by_operation(tmp_path / "report.ndjson")
    print(f"\n{role} on {database}: {sum(map(Counter.total, answers.values()))} cases")
    for operation, counts in sorted(answers.items()):
        print(f"  {operation}: {counts.total()} cases, {dict(sorted(counts.items()))}")
    report = output.decode(errors="replace")
    assert fuzz.returncode == 0, report[-6000:]
    if role is Role.OPERATOR and "Authentication failed" in report:
        # Every operation was reached with the operator's token, not turned away, but
        # for the one that reads the session cookie, which a token does not have.
        assert "Authentication failed: 1 operation " in report, report[-6000:]
        assert "  - GET /api/session\n" in report, report[-6000:]
