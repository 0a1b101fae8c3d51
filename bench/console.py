"""How fast the console's pages answer for an organization with a history: `--events`
usage events (200,000 by default) of one organization's admin over the last 30 days,
written through the usage writer (raw rows and rollups) into an embedded SQLite
database, with their ledger; then a gateway serves it in this process, the admin signs
in through the console's form, and each page is fetched `--runs` times in a row over
loopback HTTP (after 5 unmeasured fetches). Prints each page's median and 95th
percentile time to its last byte, and its size.

    python bench/console.py [--events 200000] [--runs 50]

Prints figures; never fails on them."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp

from aisonar.accounts import services as accounts
from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.billing.money import parse_amount
from aisonar.clock import utcnow
from aisonar.config import Settings
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import running_gateway
from aisonar.usage.compaction import compact
from aisonar.usage.models import UsageEvent
from aisonar.usage.writer import UsageWriter

sys.path.insert(0, str(Path(__file__).parent))
from usage_writer import drained

from aisonar.testing.usage_traffic import generated

EMAIL = "admin@bench.example"
PASSWORD = "Bench-Console-Lantern-42"
SECRET_KEY = "bench-console-secret-key-0123456789abcdef"
WARM_UP = 5


def owned(
    events: Iterator[UsageEvent], org_id: str, user_id: str, key_id: str
) -> Iterator[UsageEvent]:
    for event in events:
        yield replace(event, org_id=org_id, user_id=user_id, key_id=key_id)


async def populate(url: str, events: int) -> str:
    """The history; returns the organization's id."""
    engine = create_engine(url)
    await upgrade_to_head(engine)
    async with engine.begin() as conn:
        org = await accounts.create_org(conn, "bench")
        await ledger.credit(
            conn, org.id, NewEntry(LedgerKind.RECHARGE, parse_amount("1000000"), "bench", "bench")
        )
        person = await accounts.create_user(
            conn, EMAIL, "bench", name="Bench Admin", role=Role.ORG_ADMIN, password=PASSWORD
        )
        key, _ = await accounts.create_key(conn, EMAIL, name="bench")
    writer = UsageWriter(engine, batch_size=5000, flush_interval_s=0.25, max_pending=50_000)
    task = asyncio.create_task(writer.run())
    per_second = events / (30 * 86400)
    source = owned(
        generated(1, utcnow() - timedelta(days=30), per_second=per_second),
        org.id,
        person.id,
        key.id,
    )
    for item in itertools.islice(source, events):
        writer.submit(item)
        if writer.queue_depth >= 20_000:
            await drained(writer, 5_000)
    await writer.stop(task)
    async with engine.begin() as conn:
        await compact(conn, utcnow())
    await engine.dispose()
    return org.id


async def timed(http: aiohttp.ClientSession, url: str, runs: int) -> tuple[list[float], int]:
    size = 0
    for _ in range(WARM_UP):
        async with http.get(url) as answer:
            assert answer.status == 200, (url, answer.status)
            size = len(await answer.read())
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        async with http.get(url) as answer:
            await answer.read()
        took.append((time.perf_counter() - started) * 1000)
    return took, size


async def main(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as data:
        database = Path(data) / "aisonar.db"
        url = f"sqlite+aiosqlite:///{database}"
        started = time.perf_counter()
        org_id = await populate(url, arguments.events)
        print(f"{arguments.events:,} events written in {time.perf_counter() - started:.0f} s")
        settings = Settings(data_dir=Path(data), secret_key=SECRET_KEY)
        pages = [
            "/console",
            "/console/usage",
            "/console/keys",
            "/console/billing",
            "/console/notices",
            f"/console/orgs/{org_id}",
            f"/console/orgs/{org_id}/members",
            "/console/audit",
        ]
        async with running_gateway(settings) as gateway:
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                form = {"email": EMAIL, "password": PASSWORD, "next": "/console"}
                async with http.post(gateway.url + "/console/sign-in", data=form) as signed:
                    assert signed.status == 200, signed.status
                print(f"{'page':<40} {'p50 ms':>8} {'p95 ms':>8} {'KiB':>6}")
                for path in pages:
                    took, size = await timed(http, gateway.url + path, arguments.runs)
                    p95 = statistics.quantiles(took, n=20)[18]
                    shown = path.replace(org_id, "{org}")
                    median = statistics.median(took)
                    print(f"{shown:<40} {median:>8.1f} {p95:>8.1f} {size / 1024:>6.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
