"""What billing costs: the balance stores alone, then the gateway with billing on and off.

1. Stores: hold + settle pairs on `MemoryBalanceStore` (in-process) and on
   `RedisBalanceStore` (each a fresh random organization whose loader returns a large
   balance), `--ops` pairs one after another and `--ops` pairs spread over 64 asyncio
   tasks, on uvloop as in the gateway. Redis is skipped when unreachable.
2. Gateway: bench/harness.py's canned nginx upstream and CLI provisioning, twice (each its
   own data directory),
   then two `aisonar serve` workers on core 0: billing on (the in-process store, as
   embedded) and billing off (`AISONAR_BILLING_ENABLED=false`). wrk drives each scenario
   through both, alternating which goes first, for `--rounds` rounds; the difference of
   the medians is what billing adds.

    python bench/billing.py [--duration 8] [--ops 20000] [--rounds 3]
                            [--connections 64] [--redis-url redis://127.0.0.1:6379/0]

Prints figures; never fails on them. Exit 2 when wrk or nginx is missing, 1 when the
setup failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvloop
from redis.asyncio import Redis
from redis.exceptions import RedisError

from aisonar.billing.memory_store import MemoryBalanceStore
from aisonar.billing.redis_store import RedisBalanceStore
from aisonar.billing.store import BalanceStore, DurableBalance

sys.path.insert(0, str(Path(__file__).parent))
import harness
import wrk

BALANCE = 10**15
HOLD_AMOUNT = 1_000
COST = 600
TASKS = 64
WARMUP_PAIRS = 1_000
REDIS_HOLD_TTL_S = 660
REDIS_TIMEOUT_S = 2
ORG_PREFIX = "billing-bench-"


# ---------------------------------------------------------------- balance stores


@dataclass(frozen=True)
class StoreResult:
    store: str
    mode: str
    pairs: int
    seconds: float
    mean_us: float
    cpu_us: float
    consistent: bool

    @property
    def per_s(self) -> float:
        return self.pairs / self.seconds


async def load_large(org_id: str) -> DurableBalance:
    return DurableBalance(balance=BALANCE, through_entry=0)


async def pair(store: BalanceStore, org_id: str, hold_id: str) -> None:
    hold = await store.hold(org_id, HOLD_AMOUNT, hold_id)
    await store.settle(hold, COST)


async def sequential(store: BalanceStore, org_id: str, ops: int, tag: str) -> tuple[float, float]:
    """Wall seconds, and mean µs per pair (the same thing divided by `ops`)."""
    start = time.perf_counter()
    for i in range(ops):
        await pair(store, org_id, f"{tag}{i}")
    seconds = time.perf_counter() - start
    return seconds, seconds / ops * 1e6


async def concurrent(store: BalanceStore, org_id: str, ops: int, tag: str) -> tuple[float, float]:
    """Wall seconds for `ops` pairs over TASKS tasks, and the mean µs one pair took
    (from its hold's start to its settlement's end, waiting included)."""

    async def worker(ids: range) -> float:
        busy = 0.0
        for i in ids:
            started = time.perf_counter()
            await pair(store, org_id, f"{tag}{i}")
            busy += time.perf_counter() - started
        return busy

    start = time.perf_counter()
    busy = await asyncio.gather(*(worker(range(w, ops, TASKS)) for w in range(TASKS)))
    return time.perf_counter() - start, sum(busy) / ops * 1e6


Runner = Callable[[BalanceStore, str, int, str], Awaitable[tuple[float, float]]]
MODES: tuple[tuple[str, Runner], ...] = (("sequential", sequential), (f"{TASKS} tasks", concurrent))


async def bench_store(name: str, store: BalanceStore, ops: int) -> list[StoreResult]:
    org_id = new_org_id()
    done = WARMUP_PAIRS
    await sequential(store, org_id, WARMUP_PAIRS, "warm-")  # loads the organization
    results = []
    for mode, run in MODES:
        cpu_start = time.process_time()
        seconds, mean_us = await run(store, org_id, ops, f"{mode}-")
        cpu_us = (time.process_time() - cpu_start) / ops * 1e6
        done += ops
        live = await store.live(org_id)
        consistent = live is not None and (live.balance, live.held) == (BALANCE - done * COST, 0)
        results.append(StoreResult(name, mode, ops, seconds, mean_us, cpu_us, consistent))
    return results


async def redis_problem(url: str) -> str | None:
    """Why Redis at `url` cannot be used, or None when it answers."""
    try:
        client = Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
        )
    except ValueError as error:
        return str(error)
    try:
        await client.ping()
        return None
    except (RedisError, OSError) as error:
        return str(error) or type(error).__name__
    finally:
        await client.aclose()


def new_org_id() -> str:
    return f"{ORG_PREFIX}{secrets.token_hex(8)}"


async def delete_bench_keys(url: str) -> None:
    """Remove the keys of this benchmark's organizations from Redis (and only those)."""
    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"aisonar:*:{ORG_PREFIX}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def bench_stores(ops: int, redis_url: str) -> tuple[list[StoreResult], str | None]:
    results = await bench_store("in-process", MemoryBalanceStore(load_large), ops)
    problem = await redis_problem(redis_url)
    if problem is not None:
        return results, problem
    store = RedisBalanceStore(redis_url, load_large, hold_ttl_s=REDIS_HOLD_TTL_S)
    try:
        results += await bench_store("redis", store, ops)
    finally:
        await store.close()
        await delete_bench_keys(redis_url)
    return results, None


STORE_HEADER = (
    f"{'store':<12}{'mode':<12}{'pairs':>8}{'pairs/s':>12}{'mean µs/pair':>14}{'CPU µs/pair':>13}"
)


def print_stores(results: list[StoreResult], redis_problem: str | None, url: str) -> None:
    print("\nhold + settle, one pair = one op; mean µs/pair with 64 tasks: from the hold's")
    print("start to the settlement's end, waiting included; CPU: this process's, per pair")
    print(STORE_HEADER)
    for r in results:
        note = "" if r.consistent else "  (balance or held off after the run!)"
        print(
            f"{r.store:<12}{r.mode:<12}{r.pairs:>8,}{r.per_s:>12,.0f}{r.mean_us:>14.1f}"
            f"{r.cpu_us:>13.1f}{note}"
        )
    if redis_problem is not None:
        print(f"redis at {url} unreachable ({redis_problem}): its rows skipped")


# ---------------------------------------------------------------- gateway


@dataclass(frozen=True)
class Target:
    """One provisioned gateway: its data directory, key and port."""

    label: str
    workdir: Path
    secret: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1{harness.CHAT_PATH}"


@dataclass(frozen=True)
class Comparison:
    """One scenario through both gateways: the medians over the rounds."""

    scenario: harness.Scenario
    on: wrk.WrkResult
    off: wrk.WrkResult
    p50_differences: list[float]


def billing_env(workdir: Path, billing: bool) -> dict[str, str]:
    """harness.py's environment, always on the in-process store, billing on or off."""
    env = harness.aisonar_env(workdir / "data")
    env.pop("AISONAR_REDIS_URL", None)
    env.pop("AISONAR_BILLING_ENABLED", None)
    if not billing:
        env["AISONAR_BILLING_ENABLED"] = "false"
    return env


@contextmanager
def billing_gateway(
    label: str, workdir: Path, nginx_port: int, billing: bool
) -> Iterator[tuple[Target, subprocess.Popen[bytes]]]:
    workdir.mkdir()
    env = billing_env(workdir, billing)
    secret = harness.provision(env, nginx_port)
    with harness.gateway(env, workdir, None) as (port, process):
        yield Target(label, workdir, secret, port), process


def measure(target: Target, scenario: harness.Scenario, seconds: int) -> wrk.WrkResult:
    model = harness.MODEL_SSE if scenario.stream else harness.MODEL_JSON
    script = target.workdir / f"{model}.lua"
    script.write_text(wrk.lua_script(harness.request_body(model, scenario.stream), target.secret))
    wrk.run_wrk(target.url, script, scenario.connections, harness.WARMUP_S)
    return wrk.run_wrk(target.url, script, scenario.connections, seconds)


def measure_both(
    targets: tuple[Target, Target], scenario: harness.Scenario, seconds: int, on_first: bool
) -> tuple[wrk.WrkResult, wrk.WrkResult]:
    """(billing on, billing off), the one measured first alternating against drift."""
    on, off = targets
    if on_first:
        result_on = measure(on, scenario, seconds)
        return result_on, measure(off, scenario, seconds)
    result_off = measure(off, scenario, seconds)
    return measure(on, scenario, seconds), result_off


def gateway_scenarios(connections: int) -> list[harness.Scenario]:
    """Sequential first: the latency comparison is the point."""
    return sorted(harness.scenarios(connections), key=lambda s: not s.sequential)


def run_rounds(targets: tuple[Target, Target], args: argparse.Namespace) -> list[Comparison]:
    scenarios = gateway_scenarios(args.connections)
    runs: list[list[tuple[wrk.WrkResult, wrk.WrkResult]]] = [[] for _ in scenarios]
    for r in range(args.rounds):
        for i, scenario in enumerate(scenarios):
            runs[i].append(measure_both(targets, scenario, args.duration, (r + i) % 2 == 0))
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    return [
        Comparison(
            scenario,
            wrk.combined([on for on, _ in pairs]),
            wrk.combined([off for _, off in pairs]),
            [on.p50_ms - off.p50_ms for on, off in pairs],
        )
        for scenario, pairs in zip(scenarios, runs, strict=True)
    ]


GATEWAY_HEADER = (
    f"{'scenario':<26}{'conns':>6}{'on req/s':>10}{'off req/s':>11}{'on-off':>8}"
    f"{'on p50/p99 ms':>16}{'off p50/p99 ms':>16}{'on-off p50/p99 ms':>19}"
)


def pair_ms(first: float, second: float) -> str:
    return f"{first:.2f}/{second:.2f}"


def format_comparison(c: Comparison) -> str:
    on, off = c.on, c.off
    return (
        f"{c.scenario.name:<26}{c.scenario.connections:>6}{on.requests_per_s:>10,.0f}"
        f"{off.requests_per_s:>11,.0f}{on.requests_per_s - off.requests_per_s:>+8,.0f}"
        f"{pair_ms(on.p50_ms, on.p99_ms):>16}{pair_ms(off.p50_ms, off.p99_ms):>16}"
        f"{on.p50_ms - off.p50_ms:>+11.3f}/{on.p99_ms - off.p99_ms:+.2f}"
    )


def print_comparisons(comparisons: list[Comparison], rounds: int) -> None:
    print(f"\nmedians over {rounds} round(s):")
    print(GATEWAY_HEADER)
    for c in comparisons:
        print(format_comparison(c))
    print("\non-off p50 ms per round:")
    for c in comparisons:
        print(f"  {c.scenario.name:<26}" + "  ".join(f"{d:+.3f}" for d in c.p50_differences))
    for c in comparisons:
        for label, result in (("on", c.on), ("off", c.off)):
            if result.non_2xx or result.socket_errors:
                print(
                    f"  {c.scenario.name} billing {label}: non-2xx {result.non_2xx}, "
                    f"socket errors: {result.socket_errors or 'none'}"
                )


def print_charged(target: Target) -> None:
    """Usage events and the ledger balance after the gateway stopped (and flushed)."""
    env = billing_env(target.workdir, billing=True)
    balance = json.loads(harness.aisonar(env, "balance", "show", "bench", "--json"))["balance"]
    events = sum(count for _, count in harness.usage_counts(target.workdir / "data/aisonar.db"))
    print(
        f"billing {target.label}: {events:,} usage events, ledger balance {balance} "
        f"(recharged {harness.BENCH_BALANCE})"
    )


def run_gateways(args: argparse.Namespace, nginx: str, workdir: Path) -> None:
    print(f"\ngateway, billing on (in-process store) vs off: {args.duration} s per wrk run,")
    print(f"each after a {harness.WARMUP_S} s warm-up; both workers on core 0, wrk -t1 on core 1")
    with ExitStack() as stack:
        port = stack.enter_context(harness.nginx_upstream(nginx, workdir))
        on, on_process = stack.enter_context(billing_gateway("on", workdir / "on", port, True))
        off, off_process = stack.enter_context(billing_gateway("off", workdir / "off", port, False))
        comparisons = run_rounds((on, off), args)
        harness.stop_process(on_process)  # graceful: pending usage and ledger rows flushed
        harness.stop_process(off_process)
    print_comparisons(comparisons, args.rounds)
    print_charged(on)
    print_charged(off)


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=8, help="Seconds per wrk run.")
    parser.add_argument("--ops", type=int, default=20_000, help="Hold+settle pairs per row.")
    parser.add_argument("--rounds", type=int, default=3, help="Gateway rounds (medians).")
    parser.add_argument("--connections", type=int, default=64, help="Throughput connections.")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    return parser.parse_args()


def run_stores(args: argparse.Namespace) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results, problem = runner.run(bench_stores(args.ops, args.redis_url))
    print_stores(results, problem, args.redis_url)


def main() -> int:
    args = parse_args()
    missing = harness.missing_tools()
    if missing:
        print(f"missing {', '.join(missing)}; install with: apt-get install wrk nginx")
        return 2
    nginx = harness.find_tool("nginx")
    assert nginx is not None
    print(harness.machine())

    def work(workdir: Path) -> None:
        run_stores(args)
        run_gateways(args, nginx, workdir)

    return harness.run_in_workdir(work)


if __name__ == "__main__":
    sys.exit(main())
