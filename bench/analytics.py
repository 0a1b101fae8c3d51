"""How fast the analytics read the rollups of a large history: `--events` usage events
(10 million by default) spread over the last `--days` days, written through the usage
writer as the gateway writes them (raw rows and rollups; history this old goes straight
to its hours and days), then timed:

- an organization's 30-day daily cost series, and its breakdown by model;
- the same over the whole installation (an operator's view).

Each query runs `--runs` times through `analytics.summary.summarize`, as the API runs
it; the median is printed. The database is kept (`--data`) so the queries can be timed
again without writing the history anew (`--reuse`).

    python bench/analytics.py [--events 10000000] [--days 30] [--orgs 100]
                              [--database sqlite|postgresql] [--data bench/results/analytics]
                              [--postgres-url postgresql://postgres@127.0.0.1:5432/bench]
                              [--reuse] [--runs 5]

Prints figures; never fails on them."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from aisonar.analytics.summary import Filters, GroupBy, summarize, window
from aisonar.clock import utcnow
from aisonar.config import normalize_database_url
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.usage.compaction import compact
from aisonar.usage.writer import UsageWriter

sys.path.insert(0, str(Path(__file__).parent))
from usage_writer import drained

from aisonar.testing.usage_traffic import generated


async def write_history(url: str, events: int, days: int, orgs: int) -> float:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    writer = UsageWriter(engine, batch_size=5000, flush_interval_s=0.25, max_pending=50_000)
    task = asyncio.create_task(writer.run())
    per_second = events / (days * 86400)
    source = generated(orgs, utcnow() - timedelta(days=days), per_second=per_second)
    started = time.perf_counter()
    for number, item in enumerate(itertools.islice(source, events), 1):
        writer.submit(item)
        if writer.queue_depth >= 20_000:
            await drained(writer, 5_000)
        if number % 1_000_000 == 0:
            rate = number / (time.perf_counter() - started)
            print(f"  {number:,} events written ({rate:,.0f}/s)", file=sys.stderr)
    await writer.stop(task)
    async with engine.begin() as conn:
        await compact(conn, utcnow())
    if engine.dialect.name == "postgresql":
        # What autovacuum does after a load this size; the bulk load's statistics would
        # steer the planner to scan the whole installation's rows (about 280 ms).
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("ANALYZE")
    await engine.dispose()
    return time.perf_counter() - started


async def timed(url: str, runs: int) -> None:
    engine = create_engine(url)
    since, until = window(None, None)
    queries = {
        "one organization, 30-day daily cost series": (
            Filters(since, until, org_id="org_bench_00007"),
            GroupBy.DAY,
        ),
        "one organization, by model": (
            Filters(since, until, org_id="org_bench_00007"),
            GroupBy.MODEL,
        ),
        "whole installation, 30-day daily cost series": (Filters(since, until), GroupBy.DAY),
        "whole installation, by model": (Filters(since, until), GroupBy.MODEL),
    }
    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM usage_rollups"))).scalar_one()
        print(f"rollup rows: {count:,}")
        for label, (filters, by) in queries.items():
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                found = await summarize(conn, filters, by)
                times.append((time.perf_counter() - started) * 1000)
            print(f"{label:48s} {statistics.median(times):8.1f} ms  ({len(found)} rows)")
    await engine.dispose()


async def main(arguments: argparse.Namespace) -> None:
    if arguments.database == "sqlite":
        arguments.data.mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{(arguments.data / 'analytics.db').resolve()}"
    else:
        url = normalize_database_url(arguments.postgres_url)
    if not arguments.reuse:
        if arguments.database == "postgresql":
            engine = create_engine(url)
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await engine.dispose()
        else:
            (arguments.data / "analytics.db").unlink(missing_ok=True)
        elapsed = await write_history(url, arguments.events, arguments.days, arguments.orgs)
        print(f"history: {arguments.events:,} events in {elapsed:,.0f} s")
    await timed(url, arguments.runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--data", type=Path, default=Path("bench/results/analytics"))
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/bench")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
