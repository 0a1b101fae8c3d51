"""What a personal data export costs: a person with `--events` usage events (1 million by
default, generated as bench/usage_writer.py makes them) and a usage ledger entry for each
charged one, beside a colleague with a fifth as many, inserted straight into an embedded
SQLite database; then `aisonar privacy export EMAIL --out FILE` in a process of its own,
for a person with nothing (the floor) and for them. Prints each export's wall time
(process start included), the process's peak RSS and the archive's size, then the size
of the large files in the archive.

    python bench/personal_export.py [--events 1000000]

Prints figures; never fails on them."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

sys.path.insert(0, str(Path(__file__).parent))
from export import Run, command_environment, measured

from aisonar.accounts import services as accounts
from aisonar.accounts.models import User
from aisonar.clock import utcnow
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.store.tables import ledger_entries, usage_events
from aisonar.testing.usage_traffic import generated
from aisonar.usage.models import USAGE_COLUMNS, UsageEvent

EVENTS_PER_SECOND = 2_000
INSERT_BATCH = 10_000
PERSON, COLLEAGUE, IDLE = "person@bench.example", "colleague@bench.example", "idle@bench.example"


def _owned(
    events: Iterator[UsageEvent], people: list[User], keys: list[str]
) -> Iterator[UsageEvent]:
    """Every sixth event the colleague's, the others the person's."""
    for number, event in enumerate(events):
        who = 1 if number % 6 == 5 else 0
        yield replace(event, org_id=people[who].org_id, user_id=people[who].id, key_id=keys[who])


async def _insert(conn: AsyncConnection, batch: list[UsageEvent], balance: int) -> int:
    await conn.execute(
        insert(usage_events), [{name: getattr(e, name) for name in USAGE_COLUMNS} for e in batch]
    )
    entries = []
    for event in batch:
        if event.cost:
            balance -= event.cost
            entries.append(
                {
                    "org_id": event.org_id,
                    "kind": "usage",
                    "amount": -event.cost,
                    "balance_after": balance,
                    "actor": "usage",
                    "reason": f"usage of {event.requested_model}",
                    "request_id": event.id,
                    "created_at": event.started_at,
                }
            )
    if entries:
        await conn.execute(insert(ledger_entries), entries)
    return balance


async def populate(database: Path, events: int, start: datetime) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await upgrade_to_head(engine)
    async with engine.begin() as conn:
        await accounts.create_org(conn, "bench")
        people = [
            await accounts.create_user(conn, email, "bench", name=email.split("@")[0])
            for email in (PERSON, COLLEAGUE, IDLE)
        ]
        keys = [(await accounts.create_key(conn, p.email, name="bench"))[0].id for p in people]
    source = _owned(generated(1, start, per_second=EVENTS_PER_SECOND), people, keys)
    remaining, balance = events + events // 5, 0
    while remaining:
        batch = list(itertools.islice(source, min(INSERT_BATCH, remaining)))
        async with engine.begin() as conn:
            balance = await _insert(conn, batch, balance)
        remaining -= len(batch)
    await engine.dispose()


def export(env: dict[str, str], email: str, output: Path) -> Run:
    command = [sys.executable, "-m", "aisonar", "privacy", "export", email, "--out", str(output)]
    return measured(command, env, output)


def main(arguments: argparse.Namespace) -> None:
    events = arguments.events
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        data.mkdir()
        env = command_environment(data)
        start = utcnow() - timedelta(seconds=events * 1.2 / EVENTS_PER_SECOND + 60)
        began = time.perf_counter()
        asyncio.run(populate(data / "aisonar.db", events, start))
        print(f"{events:,} events of the person (and a fifth as many of a colleague) with")
        print(f"their ledger entries inserted in {time.perf_counter() - began:.0f} s")
        runs = [
            ("nobody's (the floor)", export(env, IDLE, data / "idle.zip")),
            ("the person's", export(env, PERSON, data / "person.zip")),
        ]
        with zipfile.ZipFile(data / "person.zip") as archive:
            members = [m for m in archive.infolist() if m.file_size > 2**20]
    print(f"{'export':22s} {'seconds':>8s} {'events/s':>9s} {'peak RSS MiB':>13s} {'ZIP MiB':>8s}")
    for label, run in runs:
        rate = f"{events / run.seconds:,.0f}" if run is runs[-1][1] else "-"
        print(
            f"{label:22s} {run.seconds:8.1f} {rate:>9s} {run.peak_rss_mib:13.0f} "
            f"{run.size_mib:8.1f}"
        )
    for member in members:
        print(
            f"  {member.filename:20s} {member.file_size / 2**20:7.1f} MiB, "
            f"compressed {member.compress_size / 2**20:6.1f} MiB"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    main(parser.parse_args())
