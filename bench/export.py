"""What a usage export costs: `--events` usage events (1 million by default, generated as
bench/usage_writer.py makes them) inserted straight into an embedded SQLite database,
then `aisonar usage export --format F --output FILE` run for each format, each in a
process of its own. Prints each export's wall time (process start included), the
process's peak RSS, and the file's size; an empty export gives the process's floor, and
a Parquet export of the first tenth of the events shows whether memory grows with size.

    python bench/export.py [--events 1000000]

Prints figures; never fails on them."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).parent))
from aisonar.clock import utcnow
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.store.tables import usage_events
from aisonar.testing.usage_traffic import generated
from aisonar.usage.models import USAGE_COLUMNS

EVENTS_PER_SECOND = 2_000
INSERT_BATCH = 10_000


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mib: float
    size_mib: float


async def insert_events(database: Path, count: int, start: datetime) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await upgrade_to_head(engine)
    source = generated(100, start, per_second=EVENTS_PER_SECOND)
    async with engine.begin() as conn:
        while batch := list(itertools.islice(source, min(INSERT_BATCH, count))):
            rows = [{name: getattr(event, name) for name in USAGE_COLUMNS} for event in batch]
            await conn.execute(insert(usage_events), rows)
            count -= len(batch)
    await engine.dispose()


def measured(command: list[str], env: dict[str, str], output: Path) -> Run:
    """Run the command in a process of its own: its time, peak RSS and output's size."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed")
    # ru_maxrss is in KiB on Linux.
    return Run(seconds, usage.ru_maxrss / 1024, output.stat().st_size / 2**20)


def command_environment(data: Path) -> dict[str, str]:
    """The environment of `aisonar` commands on the database in `data`."""
    return {
        **os.environ,
        "AISONAR_DATA_DIR": str(data),
        "AISONAR_SECRET_KEY": secrets.token_urlsafe(36),
        "AISONAR_LOG_LEVEL": "warning",
    }


def export(env: dict[str, str], output: Path, *args: str) -> Run:
    command = [sys.executable, "-m", "aisonar", "usage", "export", "--output", str(output)]
    return measured([*command, *args], env, output)


def main(arguments: argparse.Namespace) -> None:
    events = arguments.events
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        data.mkdir()
        env = command_environment(data)
        start = utcnow() - timedelta(seconds=events / EVENTS_PER_SECOND + 60)
        began = time.perf_counter()
        asyncio.run(insert_events(data / "aisonar.db", events, start))
        print(f"{events:,} events inserted in {time.perf_counter() - began:.0f} s")
        tenth = start + timedelta(seconds=events / 10 / EVENTS_PER_SECOND)
        runs = [
            ("nothing (the floor)", 0, export(env, data / "none.csv", "--since", "2999-01-01")),
            ("csv", events, export(env, data / "all.csv", "--format", "csv")),
            ("jsonl", events, export(env, data / "all.jsonl", "--format", "jsonl")),
            (
                "parquet, first 10 %",
                events // 10,
                export(
                    env, data / "tenth.parquet", "--format", "parquet", "--until", tenth.isoformat()
                ),
            ),
            ("parquet", events, export(env, data / "all.parquet", "--format", "parquet")),
        ]
        groups = pq.ParquetFile(data / "all.parquet").metadata.num_row_groups
    print(f"{'export':22s} {'seconds':>8s} {'events/s':>9s} {'peak RSS MiB':>13s} {'file MiB':>9s}")
    for label, count, run in runs:
        rate = f"{count / run.seconds:,.0f}" if count else "-"
        print(
            f"{label:22s} {run.seconds:8.1f} {rate:>9s} {run.peak_rss_mib:13.0f} "
            f"{run.size_mib:9.1f}"
        )
    print(f"parquet: {groups} row groups")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    main(parser.parse_args())
