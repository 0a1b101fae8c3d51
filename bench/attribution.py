"""What summaries by attribution cost over a large history, from the raw events (as before
the attribution rollups) and from the attribution rollups: `--events` usage events of
one organization over the last `--days` days (the generator of `usage_writer.py`, each
event given one of `--end-users` end users (skewed to the first ones), one of ten times
as many sessions, a `feature` property of 8 values and a `tier` of 3), written through the
usage writer as the gateway writes them with `feature` marked as a dimension, then timed:

- the top 100 end users by cost, and one end user's total;
- the breakdown by `feature`, and one value's daily series.

Each query runs `--runs` times; the median is printed, for the raw events (the query
`analytics.attribution` makes) and for `analytics.summary.summarize`, which reads the
rollups. Then the rollup rows (the existing rollups', and the attribution rollups' by end
user and by property), and the time marking `tier` takes (its rows built from the
events). The database is kept (`--data`) for `--reuse`.

    python bench/attribution.py [--events 1000000] [--days 30] [--end-users 2000]
                                [--database sqlite|postgresql] [--data bench/results/attribution]
                                [--postgres-url postgresql://postgres@127.0.0.1:5432/bench]
                                [--reuse] [--runs 5]

Prints figures; never fails on them."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.analytics.attribution import EventQuery, sum_events
from aisonar.analytics.summary import Filters, GroupBy, summarize, window
from aisonar.audit.models import COMMAND_LINE
from aisonar.clock import utcnow
from aisonar.config import normalize_database_url
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.store.tables import attribution_rollups, organizations, usage_rollups
from aisonar.testing.usage_traffic import generated
from aisonar.usage.attribution_rollups import mark_properties
from aisonar.usage.compaction import compact
from aisonar.usage.models import UsageEvent
from aisonar.usage.rollups import DAY
from aisonar.usage.writer import UsageWriter

sys.path.insert(0, str(Path(__file__).parent))
from usage_writer import drained

ORG = "org_bench_00000"
FEATURES = tuple(f"feature-{index}" for index in range(8))


def attributed(events: Iterator[UsageEvent], end_users: int) -> Iterator[UsageEvent]:
    rng = random.Random(11)
    for item in events:
        # Skewed: the first end users make more requests than the last, as an
        # application's do, and every one comes back through the month.
        person = int(end_users * rng.random() ** 2)
        properties = {"feature": rng.choice(FEATURES), "tier": rng.choice(("a", "b", "c"))}
        yield dataclasses.replace(
            item,
            end_user=f"customer-{person:05d}",
            session_id=f"session-{person:05d}-{rng.randrange(10)}",
            properties=orjson.dumps(properties).decode(),
        )


async def write_history(url: str, events: int, days: int, end_users: int) -> float:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    async with engine.begin() as conn:
        await conn.execute(
            insert(organizations).values(
                id=ORG, name="bench", plan="free", created_at=utcnow(), models=None
            )
        )
        await conn.execute(
            update(organizations)
            .where(organizations.c.id == ORG)
            .values(dimension_properties=["feature"])
        )
    writer = UsageWriter(engine, batch_size=5000, flush_interval_s=0.25, max_pending=50_000)
    task = asyncio.create_task(writer.run())
    source = generated(1, utcnow() - timedelta(days=days), per_second=events / (days * 86400))
    started = time.perf_counter()
    for number, item in enumerate(itertools.islice(attributed(source, end_users), events), 1):
        writer.submit(item)
        if writer.queue_depth >= 20_000:
            await drained(writer, 5_000)
        if number % 250_000 == 0:
            rate = number / (time.perf_counter() - started)
            print(f"  {number:,} events written ({rate:,.0f}/s)", file=sys.stderr)
    await writer.stop(task)
    elapsed = time.perf_counter() - started
    async with engine.begin() as conn:
        await compact(conn, utcnow())
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("ANALYZE")
    await engine.dispose()
    return elapsed


async def median_ms(runs: int, query: Callable[[], Awaitable[Any]]) -> tuple[float, int]:
    times, found = [], None
    for _ in range(runs):
        started = time.perf_counter()
        found = await query()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), len(found or ())


async def timed(url: str, runs: int) -> None:
    engine = create_engine(url)
    since, until = window(None, None)
    org = Filters(since, until, org_id=ORG)

    def raw(group: str | int | None, **equal: str) -> EventQuery:
        value = equal.pop("feature", None)
        return EventQuery(
            since=since,
            until=until,
            equal={"org_id": ORG, **equal},
            within={},
            status_class=None,
            property_equals=None if value is None else ("feature", value),
            group=group,
            limit=100,
        )

    one = "customer-00000"
    queries: dict[str, tuple[EventQuery, Filters, GroupBy]] = {
        "top 100 end users by cost": (raw("end_user"), org, GroupBy.END_USER),
        "one end user's total": (
            raw(None, end_user=one),
            dataclasses.replace(org, end_user=one),
            GroupBy.TOTAL,
        ),
        "breakdown by feature (marked)": (
            raw("property:feature"),
            dataclasses.replace(org, property_name="feature"),
            GroupBy.PROPERTY,
        ),
        "one feature's daily series": (
            raw(DAY, feature=FEATURES[0]),
            dataclasses.replace(org, property_equals=("feature", FEATURES[0])),
            GroupBy.DAY,
        ),
    }
    async with engine.connect() as conn:
        await rows(conn)
        print(f"{'query':34s} {'raw events':>12s} {'rollups':>10s}  rows")
        for label, (events, filters, by) in queries.items():

            async def from_events(query: EventQuery = events) -> list[Any]:
                return await sum_events(conn, query)

            async def from_rollups(chosen: Filters = filters, grouping: GroupBy = by) -> list[Any]:
                return await summarize(conn, chosen, grouping)

            before, _ = await median_ms(runs, from_events)
            after, count = await median_ms(runs, from_rollups)
            print(f"{label:34s} {before:9.1f} ms {after:7.1f} ms  {count}")
    async with engine.begin() as conn:
        started = time.perf_counter()
        await mark_properties(conn, COMMAND_LINE, ORG, ["feature", "tier"])
        elapsed = time.perf_counter() - started
        print(f"marking `tier` (its rows built from the events): {elapsed:.1f} s")
    async with engine.begin() as conn:
        await mark_properties(conn, COMMAND_LINE, ORG, ["feature"])
    await engine.dispose()


async def rows(conn: AsyncConnection) -> None:
    table = attribution_rollups
    total = await conn.scalar(select(func.count()).select_from(usage_rollups))
    print(f"usage rollup rows: {total:,}")
    found = await conn.execute(
        select(table.c.dimension, table.c.granularity, func.count())
        .group_by(table.c.dimension, table.c.granularity)
        .order_by(table.c.dimension, table.c.granularity)
    )
    for dimension, granularity, count in found:
        unit = "day" if granularity == DAY else "hour"
        print(f"attribution rollup rows, {dimension} by {unit}: {count:,}")


async def main(arguments: argparse.Namespace) -> None:
    if arguments.database == "sqlite":
        arguments.data.mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{(arguments.data / 'attribution.db').resolve()}"
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
            (arguments.data / "attribution.db").unlink(missing_ok=True)
        elapsed = await write_history(url, arguments.events, arguments.days, arguments.end_users)
        rate = arguments.events / elapsed
        print(f"history: {arguments.events:,} events in {elapsed:,.0f} s ({rate:,.0f}/s)")
    await timed(url, arguments.runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--end-users", type=int, default=2000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--data", type=Path, default=Path("bench/results/attribution"))
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/bench")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
