"""How many usage events per second the writer sustains, raw rows and rollups together,
into SQLite (the embedded default, WAL) and PostgreSQL.

Events are generated as a busy installation would produce them: `--orgs` organizations
with 5 users of one key each, each organization using 3 of 12 models (on 3 providers,
over 8 channels), 3 % client errors and 1 % upstream errors, 60 % streamed, log-normal
latencies, timestamps advancing 20,000 a second (so a batch spans 50 ms of traffic and
its rollups meet rows that earlier batches made). That is about 9,000 combinations of
dimensions, each numbered once per writer: a warm-up of `--events` / 2 is not measured.
The events are generated first; the writer then runs as in the gateway (batches of
1,000), fed as fast as it drains; the figure is events written per second of wall time.

    python bench/usage_writer.py [--events 200000] [--orgs 100]
                                 [--postgres-url postgresql://postgres@127.0.0.1:5432/bench]

Prints figures; never fails on them. PostgreSQL is skipped when unreachable."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from aisonar.clock import utcnow
from aisonar.config import normalize_database_url
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.testing.usage_traffic import generated
from aisonar.usage.writer import UsageWriter


async def drained(writer: UsageWriter, depth: int) -> None:
    """Wait until no more than `depth` events are pending (polled: the writer has no
    event to wait on, and a millisecond is nothing against a batch)."""
    while writer.queue_depth > depth:  # noqa: ASYNC110
        await asyncio.sleep(0.001)


async def sustained(url: str, events: int, orgs: int) -> float:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    writer = UsageWriter(engine, batch_size=1000, flush_interval_s=0.25, max_pending=20_000)
    task = asyncio.create_task(writer.run())
    source = generated(orgs, utcnow() - timedelta(minutes=1), per_second=20_000)
    # Generated before the clock starts: the figure is the writer's alone.
    warm_up = list(itertools.islice(source, events // 2))
    measured = list(itertools.islice(source, events))
    written_before, started = 0, 0.0
    for batch in (warm_up, measured):
        if batch is measured:
            await drained(writer, 0)
            written_before, started = writer.written, time.perf_counter()
        for item in batch:
            writer.submit(item)
            if writer.queue_depth >= 5_000:
                await drained(writer, 1_000)
    await writer.stop(task)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    assert writer.dropped == 0
    return (writer.written - written_before) / elapsed


async def main(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        sqlite = f"sqlite+aiosqlite:///{folder}/bench.db"
        rate = await sustained(sqlite, arguments.events, arguments.orgs)
        print(f"SQLite      {rate:>9,.0f} events/s  ({arguments.events:,} events, raw + rollups)")
    url = normalize_database_url(arguments.postgres_url)
    try:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    except (SQLAlchemyError, OSError) as error:
        print(f"PostgreSQL  skipped: {error}", file=sys.stderr)
        return
    rate = await sustained(url, arguments.events, arguments.orgs)
    print(f"PostgreSQL  {rate:>9,.0f} events/s  ({arguments.events:,} events, raw + rollups)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/bench")
    asyncio.run(main(parser.parse_args()))
