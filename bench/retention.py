"""What a retention run costs the gateway: `--events` old usage events (1 million by
default, 30 days old, of a Free organization, so all past its 7 days) in the embedded
SQLite database, then wrk against `aisonar serve` (bench/harness.py's canned nginx
upstream, non-streaming) twice for `--duration` seconds: alone, and while `aisonar
retention run` deletes them (in its batches of 5,000 with a pause after each, pinned to
the gateway's core, the worst place it could run). Prints p50 and p99 latency and
requests per second of both, and how long the run took.

    python bench/retention.py [--events 1000000] [--duration 20] [--connections 16]

Prints figures; never fails on them. Exit 2 when wrk or nginx is missing."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import harness
import wrk
from usage_writer import drained

from aisonar.clock import utcnow
from aisonar.store.engine import create_engine
from aisonar.testing.usage_traffic import generated
from aisonar.usage.writer import UsageWriter


async def old_events(database: Path, org_id: str, count: int) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    writer = UsageWriter(engine, batch_size=5000, flush_interval_s=0.25, max_pending=50_000)
    task = asyncio.create_task(writer.run())
    source = generated(1, utcnow() - timedelta(days=30), per_second=count / 86400)
    for item in itertools.islice(source, count):
        item.org_id = org_id
        writer.submit(item)
        if writer.queue_depth >= 20_000:
            await drained(writer, 5_000)
    await writer.stop(task)
    await engine.dispose()


def load(url: str, script: Path, connections: int, seconds: int) -> wrk.WrkResult:
    return wrk.run_wrk(url, script, connections, seconds)


def bench(arguments: argparse.Namespace, nginx: str, workdir: Path) -> None:
    env = harness.aisonar_env(workdir / "data")
    with harness.nginx_upstream(nginx, workdir) as nginx_port:
        secret = harness.provision(env, nginx_port)
        org_id = json.loads(harness.aisonar(env, "org", "list", "--json"))[0]["id"]
        started = time.perf_counter()
        asyncio.run(old_events(workdir / "data" / "aisonar.db", org_id, arguments.events))
        print(f"{arguments.events:,} old events written in {time.perf_counter() - started:.0f} s")
        script = workdir / "chat.lua"
        script.write_text(wrk.lua_script(harness.request_body(harness.MODEL_JSON, False), secret))
        with harness.gateway(env, workdir, None) as (port, _):
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            load(url, script, arguments.connections, 3)  # warm-up
            alone = load(url, script, arguments.connections, arguments.duration)
            purge: dict[str, float] = {}

            def purge_now() -> None:
                command = ["taskset", "-c", harness.GATEWAY_CORE, sys.executable, "-m", "aisonar"]
                command += ["retention", "run", "--json"]
                began = time.perf_counter()
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                purge["seconds"] = time.perf_counter() - began
                purge["deleted"] = json.loads(done.stdout)["events_deleted"]

            thread = threading.Thread(target=purge_now)
            thread.start()
            during = load(url, script, arguments.connections, arguments.duration)
            thread.join()
    print(f"{'':24s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'non-2xx':>8s}")
    for label, result in (("gateway alone", alone), ("during retention", during)):
        figures = f"{result.requests_per_s:8.0f} {result.p50_ms:8.2f} {result.p99_ms:8.2f}"
        print(f"{label:24s} {figures} {result.non_2xx:8d} {result.socket_errors}")
    print(f"retention deleted {purge['deleted']:,} events in {purge['seconds']:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    arguments = parser.parse_args()
    nginx = harness.find_tool("nginx")
    if nginx is None or harness.find_tool("wrk") is None:
        print("needs wrk and nginx (apt-get install wrk nginx-light)", file=sys.stderr)
        return 2
    return harness.run_in_workdir(lambda workdir: bench(arguments, nginx, workdir))


if __name__ == "__main__":
    sys.exit(main())
