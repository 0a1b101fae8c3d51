"""A fleet on this machine: three `aisonar serve` instances (two workers each) behind
nginx, on PostgreSQL through PgBouncer (transaction mode) and a three-master Redis
Cluster, all started here; the upstream is nginx with canned OpenAI answers.

Prints requests/s through the fleet against one instance alone (wrk, JSON), Redis
scripts and commands per request on the cluster, and the exactness checks after the
load: usage events recorded against the answers wrk saw, and the organization's balance
against the sum of its ledger. Never fails on the figures.

    python bench/fleet.py --database-url postgresql://postgres@127.0.0.1:5432/bench_fleet
                          [--duration 5] [--connections 64]

The database is emptied first. Exit 2 when wrk, nginx, redis-server or pgbouncer is
missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import harness
import proxy
import wrk

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text

from aisonar.config import Settings
from aisonar.store.engine import create_engine
from aisonar.store.tables import ledger_entries, organizations, usage_events
from tests.pgbouncer import running_pgbouncer
from tests.redis_topologies import running_cluster

INSTANCES = 3
WORKERS = 2


def lb_conf(port: int, backends: list[int], prefix: Path) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{backend};" for backend in backends)
    return f"""daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    upstream fleet {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://fleet;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"""


@contextlib.contextmanager
def load_balancer(nginx: str, workdir: Path, backends: list[int]) -> Iterator[int]:
    prefix = workdir / "lb"
    (prefix / "tmp").mkdir(parents=True)
    port = harness.free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(lb_conf(port, backends, prefix))
    command = [nginx, "-p", f"{prefix}/", "-c", str(conf), "-e", str(prefix / "error.log")]
    command[0:0] = ["taskset", "-c", wrk.LOAD_CORE]
    with harness.running(command, prefix / "stdout.log") as process:
        harness.wait_until_ok(f"http://127.0.0.1:{port}/healthz", process, "nginx")
        yield port


@contextlib.contextmanager
def instances(env: dict[str, str], workdir: Path) -> Iterator[list[int]]:
    with contextlib.ExitStack() as stack:
        ports = []
        for i in range(INSTANCES):
            port = harness.free_port()
            command = [sys.executable, "-m", "aisonar", "serve", "--port", str(port)]
            command += ["--workers", str(WORKERS)]
            log = workdir / f"instance{i}.log"
            process = stack.enter_context(harness.running(command, log, env))
            harness.wait_until_ok(f"http://127.0.0.1:{port}/healthz", process, "an instance")
            ports.append(port)
        yield ports


def measure(url: str, secret: str, connections: int, duration: int) -> wrk.WrkResult:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    body = harness.request_body(harness.MODEL_JSON, stream=False)
    script.write_text(wrk.lua_script(body, secret))
    command = ["taskset", "-c", wrk.LOAD_CORE, "wrk", "-t1", f"-c{connections}"]
    command += [f"-d{duration}s", "-s", str(script), url + "/v1/chat/completions"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    script.unlink()
    return wrk.parse_wrk(done.stdout)


async def exactness(url: str) -> tuple[int, int, int]:
    """(usage events, the organization's balance, the sum of its ledger)."""
    engine = create_engine(Settings(database_url=url).resolved_database_url, pgbouncer=True)
    async with engine.connect() as conn:
        events = await conn.scalar(select(func.count()).select_from(usage_events))
        balance = await conn.scalar(
            select(organizations.c.balance).where(organizations.c.name == "bench")
        )
        ledger = await conn.scalar(select(func.sum(ledger_entries.c.amount)))
    await engine.dispose()
    return int(events or 0), int(balance or 0), int(ledger or 0)


async def empty(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


def run(args: argparse.Namespace, nginx: str, workdir: Path) -> None:
    direct = Settings(database_url=args.database_url).resolved_database_url
    asyncio.run(empty(direct))
    with (
        contextlib.contextmanager(running_pgbouncer)(args.database_url) as pooled,
        running_cluster(workdir / "redis") as redis_url,
        harness.nginx_upstream(nginx, workdir) as upstream,
    ):
        env = harness.aisonar_env(workdir / "data")
        env |= {
            "AISONAR_DATABASE_URL": pooled,
            "AISONAR_DATABASE_PGBOUNCER": "true",
            "AISONAR_REDIS_URL": redis_url,
        }
        secret = harness.provision(env, upstream)
        proxy.limit_everything(env)
        with instances(env, workdir) as ports, load_balancer(nginx, workdir, ports) as lb:
            before = proxy.redis_calls(redis_url)
            one = measure(f"http://127.0.0.1:{ports[0]}", secret, args.connections, args.duration)
            fleet = measure(f"http://127.0.0.1:{lb}", secret, args.connections, args.duration)
            after = proxy.redis_calls(redis_url)
            served = one.requests + fleet.requests
            print(f"one instance ({WORKERS} workers): {one.requests_per_s:,.0f} requests/s")
            print(
                f"fleet of {INSTANCES} behind nginx: {fleet.requests_per_s:,.0f} requests/s "
                f"({fleet.requests_per_s / one.requests_per_s:.2f}x one instance)"
            )
            print(f"non-2xx answers: one {one.non_2xx}, fleet {fleet.non_2xx}")
            proxy.report_redis_calls(before, after, served)
        events, balance, ledger = asyncio.run(exactness(pooled))
        ok = served - one.non_2xx - fleet.non_2xx
        print(f"usage events {events:,} for {ok:,} answered requests (wrk counts whole ones)")
        print(f"balance {balance:,} against its ledger's sum {ledger:,}: ", end="")
        print("equal" if balance == ledger else "DIFFERENT")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", required=True, help="A PostgreSQL database to use.")
    parser.add_argument("--duration", type=int, default=5, help="Seconds per wrk run.")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections.")
    args = parser.parse_args()
    missing = [tool for tool in ("wrk", "nginx", "redis-server", "pgbouncer")]
    missing = [tool for tool in missing if harness.find_tool(tool) is None]
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 2
    nginx = harness.find_tool("nginx")
    assert nginx is not None
    return harness.run_in_workdir(lambda workdir: run(args, nginx, workdir))


if __name__ == "__main__":
    sys.exit(main())
