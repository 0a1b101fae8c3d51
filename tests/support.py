"""Helpers the tests share: tenants, backends, waiting for the usage writer."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts import services as accounts
from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.billing.money import parse_amount
from aisonar.config import Settings
from aisonar.store.tables import usage_events
from aisonar.testing.gateway_server import RunningGateway


@dataclass
class Backend:
    name: str
    settings: Settings
    engine: AsyncEngine


@dataclass
class Tenant:
    org_name: str
    email: str
    key_id: str
    secret: str
    org_id: str
    user_id: str


async def make_tenant(
    engine: AsyncEngine,
    *,
    models: list[str] | None = None,
    balance: str = "100",
    plan: str = "free",
) -> Tenant:
    suffix = secrets.token_hex(4)
    async with engine.begin() as conn:
        org = await accounts.create_org(conn, f"org-{suffix}", plan)
        user = await accounts.create_user(conn, f"user-{suffix}@example.com", org.name)
        key, secret = await accounts.create_key(conn, user.email, models=models)
        if parse_amount(balance, allow_zero=True):
            await ledger.credit(
                conn,
                org.id,
                NewEntry(LedgerKind.RECHARGE, parse_amount(balance), "test", "test balance"),
            )
    return Tenant(org.name, user.email, key.id, secret, org.id, user.id)


async def usage_count(engine: AsyncEngine, org_id: str) -> int:
    async with engine.connect() as conn:
        query = (
            select(func.count()).select_from(usage_events).where(usage_events.c.org_id == org_id)
        )
        return int((await conn.execute(query)).scalar_one())


async def wait_for_usage(engine: AsyncEngine, org_id: str, expected: int) -> None:
    for _ in range(200):
        if await usage_count(engine, org_id) >= expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"expected {expected} usage events, found {await usage_count(engine, org_id)}"
    )


async def writer_drained(gateway: RunningGateway) -> None:
    """Wait until the gateway's usage writer has committed every event handed to it."""
    writer = gateway.app.runtime.writer
    for _ in range(200):
        if not writer.queue_depth:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{writer.queue_depth} usage events were never written")


def cli_environment(backend: Backend) -> dict[str, str]:
    """The environment that points the `aisonar` command at a test backend."""
    import os

    settings = backend.settings
    return {
        **os.environ,
        "AISONAR_DATA_DIR": str(settings.data_dir),
        "AISONAR_DATABASE_URL": settings.database_url,
        "AISONAR_SECRET_KEY": settings.secret_key,
    }


def read_files_elsewhere(paths: list[str]) -> bytes:
    """The raw bytes of files, read by another process.

    Closing any descriptor of a SQLite file drops every POSIX lock this process holds
    on it (sqlite.org/howtocorrupt.html, 2.2.1), so live database files are never
    opened from the test process itself.
    """
    import subprocess

    return subprocess.run(["cat", "--", *paths], capture_output=True, check=True).stdout


async def assert_ledger_invariant(engine: AsyncEngine, org_id: str) -> int:
    """The organization's balance equals the sum of its ledger entries; returns it."""
    from aisonar.billing.ledger import durable_balance, ledger_sum

    # The balance and the sum are two reads, between which the ledger writer may commit a
    # batch: a real break persists, so read again for a while before failing.
    for _ in range(100):
        async with engine.connect() as conn:
            balance = (await durable_balance(conn, org_id)).balance
            total = await ledger_sum(conn, org_id)
        if balance == total:
            return balance
        await asyncio.sleep(0.05)
    raise AssertionError(f"balance {balance} of {org_id} is not its ledger's sum {total}")


async def settled_balance(engine: AsyncEngine, org_id: str, expected: int) -> None:
    """Wait for the ledger writer to make the expected balance durable."""
    from aisonar.billing.ledger import durable_balance

    for _ in range(200):
        async with engine.connect() as conn:
            if (await durable_balance(conn, org_id)).balance == expected:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"balance of {org_id} never reached {expected}")


async def start_gateway_process(
    backend: Backend, port: int, *, workers: int = 1, extra_env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """`aisonar serve` in a process of its own, returned once it answers /readyz."""
    import sys

    import aiohttp

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aisonar",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        env={**cli_environment(backend), "AISONAR_LOG_LEVEL": "warning", **(extra_env or {})},
    )
    async with aiohttp.ClientSession() as session:
        # A minute: on a busy machine a cold start with migrations takes a while.
        for _ in range(1200):
            if process.returncode is not None:
                raise AssertionError(f"the gateway exited with status {process.returncode}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError("the gateway did not start")


async def recorded_events(backend: Backend, tenant: Tenant, expected: int) -> list[Any]:
    await wait_for_usage(backend.engine, tenant.org_id, expected)
    async with backend.engine.connect() as conn:
        rows = await conn.execute(
            select(usage_events)
            .where(usage_events.c.org_id == tenant.org_id)
            .order_by(usage_events.c.started_at)
        )
        return list(rows)


async def own_plan(backend: Backend, tenant: Tenant) -> str:
    """Put the tenant's organization on a fresh plan no other test uses."""
    from sqlalchemy import insert, update

    from aisonar.store.tables import organizations, plans

    name = f"t-{secrets.token_hex(4)}"
    async with backend.engine.begin() as conn:
        await conn.execute(insert(plans).values(name=name))
        await conn.execute(
            update(organizations).where(organizations.c.id == tenant.org_id).values(plan=name)
        )
    return name
