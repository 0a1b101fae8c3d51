"""How many reported usage events per second `POST /api/ingest/events` takes and writes:
`aisonar serve` on the embedded SQLite database (pinned to the gateway's core), an
ingest-only key, and `--clients` concurrent clients on the other core posting batches of
`--batch` events (each with its own id, priced gpt-4o-mini events of 100 end users) for
`--duration` seconds. Prints the batches' p50/p99 latency, the events accepted per
second, and the events written per second (from the first batch to the last event in
the database).

    python bench/ingest.py [--duration 20] [--clients 4] [--batch 1000]

Prints figures; never fails on them."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
import harness
import wrk


def batch_body(client: int, number: int, size: int) -> bytes:
    now = datetime.now(UTC).isoformat()
    events = [
        {
            "id": f"c{client}-b{number}-e{index}",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "timestamp": now,
            "input_tokens": 1200,
            "cached_input_tokens": 200,
            "output_tokens": 300,
            "latency_ms": 900,
            "ttft_ms": 250,
            "stream": True,
            "user": f"user-{index % 100}",
            "properties": {"feature": "search"},
        }
        for index in range(size)
    ]
    return json.dumps({"events": events}).encode()


async def client(
    url: str, secret: str, number: int, size: int, until: float
) -> tuple[list[float], int]:
    """Batches posted until `until`: each one's latency, and how many times the gateway
    said it was behind (503 with Retry-After: the batch is sent again, as OTLP exporters
    and well-behaved clients do)."""
    latencies, backlogged = [], 0
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        batch = 0
        while time.perf_counter() < until:
            body = batch_body(number, batch, size)
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status == 503:
                    backlogged += 1
                    await asyncio.sleep(float(response.headers["Retry-After"]))
                    continue
                if response.status != 202:
                    raise RuntimeError(f"batch refused: {response.status}")
            latencies.append(time.perf_counter() - started)
            batch += 1
    return latencies, backlogged


def written(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM usage_events").fetchone()[0])


async def measure(port: int, secret: str, database: Path, arguments: argparse.Namespace) -> None:
    url = f"http://127.0.0.1:{port}/api/ingest/events"
    started = time.perf_counter()
    until = started + arguments.duration
    runs = [client(url, secret, n, arguments.batch, until) for n in range(arguments.clients)]
    done = await asyncio.gather(*runs)
    latencies = [seconds for run, _ in done for seconds in run]
    backlogged = sum(refused for _, refused in done)
    accepted_s = time.perf_counter() - started
    accepted = len(latencies) * arguments.batch
    while written(database) < accepted:  # noqa: ASYNC110 (another process writes them)
        await asyncio.sleep(0.05)
    written_s = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"batches of {arguments.batch}, {arguments.clients} clients, {accepted:,} events")
    print(
        f"  batch latency   p50 {quantiles[49] * 1000:7.1f} ms   p99 {quantiles[98] * 1000:7.1f} ms"
    )
    print(f"  accepted        {accepted / accepted_s:>9,.0f} events/s")
    print(f"  written         {accepted / written_s:>9,.0f} events/s")
    print(f"  answered 503 (writer behind, retried): {backlogged} times")


def main(arguments: argparse.Namespace) -> None:
    # The clients keep to the other core than the gateway's.
    os.sched_setaffinity(0, {int(wrk.LOAD_CORE)})
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        env = harness.aisonar_env(workdir / "data")
        email = "bench@example.com"
        harness.aisonar(env, "org", "create", "bench")
        harness.aisonar(env, "user", "create", email, "--org", "bench")
        created = harness.aisonar(env, "key", "create", email, "--scope", "ingest", "--json")
        secret = json.loads(created)["secret"]
        with harness.gateway(env, workdir, None) as (port, _):
            asyncio.run(measure(port, secret, workdir / "data" / "aisonar.db", arguments))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    main(parser.parse_args())
