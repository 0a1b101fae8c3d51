"""schemathesis against `/api/openapi.json`: generated requests to every operation, as
an operator, on a gateway with a database of its own. No answer is a 500, and every
answer matches the document (status, content type, schema)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from aisonar.accounts import services as accounts
from aisonar.accounts import tokens
from aisonar.accounts.models import Role
from aisonar.config import Settings
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.testing.gateway_server import free_port
from tests.conftest import TEST_SECRET_KEY
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


async def operator_token(settings: Settings) -> str:
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            await accounts.create_org(conn, "fuzz")
            await accounts.create_user(conn, "op@fuzz.example", "fuzz", role=Role.OPERATOR)
            _, secret = await tokens.create_token(conn, "op@fuzz.example")
    finally:
        await engine.dispose()
    return secret


async def test_generated_requests_find_no_500_and_no_answer_off_the_document(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key=TEST_SECRET_KEY)
    settings.data_dir.mkdir()
    secret = await operator_token(settings)
    port = free_port()
    server = await start_gateway_process(
        Backend("fuzz", settings, create_engine(settings.resolved_database_url)),
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
            "10",
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
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # Its cache of crashes stays out of the checkout.
            cwd=tmp_path,
        )
        output, _ = await fuzz.communicate()
    finally:
        server.send_signal(signal.SIGTERM)
        await server.wait()
    report = output.decode(errors="replace")
    assert fuzz.returncode == 0, report[-6000:]
    # Every operation was reached with the operator's token, not turned away, but for
    # the one that reads the session cookie, which a token does not have.
    if "Authentication failed" in report:
        assert "Authentication failed: 1 operation " in report, report[-6000:]
        assert "  - GET /api/session\n" in report, report[-6000:]
