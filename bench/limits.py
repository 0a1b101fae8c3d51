"""What limits cost: the limit and spend stores alone, then the gateway with limits on
and off.

1. Stores: one request's checks as the gateway makes them (requests and tokens per
   minute for its key, user and organization, and a concurrency slot), admitted and
   then finished (the slot given back and the tokens corrected, in one call), on
   `MemoryLimitStore` and `RedisLimitStore`; and its spend quotas (its key's daily, its
   user's monthly) held and settled on `MemorySpendStore` and `RedisSpendStore`:
   `--ops` decisions one after another, then the same spread over 64 asyncio tasks, on
   uvloop as in the gateway. Redis is skipped when unreachable.
2. Gateway: bench/harness.py's canned nginx upstream and CLI provisioning, twice (each its
   own data directory, in-process stores, no Redis), then two `aisonar serve` workers on
   core 0: limits on (the key gets requests and tokens per minute, a concurrency limit
   and a daily spend quota, its organization requests per minute, all far above what a
   run reaches, so
   every one is checked on every request and none refuses) and limits off (none set).
   wrk drives each scenario through both, alternating which goes first, for `--rounds`
   rounds; the difference of the medians is what limits add.

    python bench/limits.py [--ops 20000] [--duration 5] [--rounds 3] [--connections 64]
                           [--redis-url redis://127.0.0.1:6379/0]

Prints figures; never fails on them. Exit 2 when wrk or nginx is missing, 1 when the
setup failed."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import uvloop
from redis.exceptions import RedisError

from aisonar.limits.memory_spend import MemorySpendStore
from aisonar.limits.memory_store import MemoryLimitStore
from aisonar.limits.models import Subject, SubjectKind
from aisonar.limits.redis_spend import RedisSpendStore
from aisonar.limits.redis_store import RedisLimitStore
from aisonar.limits.spend import Period, SpendStore, spend_check
from aisonar.limits.store import LimitStore, RateCheck, SlotCheck
from aisonar.store.redis_client import org_scope

sys.path.insert(0, str(Path(__file__).parent))
import billing
import harness
import wrk

_TASKS = 64
# Limits far above what a run can reach, so every decision is a full admission.
_HUGE = 10**12

# ---------------------------------------------------------------- limit stores


def request_checks() -> tuple[list[RateCheck], list[SlotCheck]]:
    # One organization's counters, in its hash slot on a Redis Cluster.
    tag = org_scope(secrets.token_hex(4))
    rates = [
        RateCheck(f"{level} {unit}", f"{tag}:{level}:{unit}", _HUGE, 60.0, cost)
        for level in ("key", "user", "org")
        for unit, cost in (("rpm", 1), ("tpm", 500))
    ]
    return rates, [SlotCheck("key concurrent", f"{tag}:key:slots", _HUGE, 600.0)]


Operation = Callable[[], Awaitable[None]]


def rate_decision(store: LimitStore) -> Operation:
    rates, slots = request_checks()

    async def decide() -> None:
        request_id = secrets.token_hex(8)
        decision = await store.admit(request_id, rates, slots)
        assert decision.allowed
        await store.finish(request_id, slots, rates[1::2], -100)

    return decide


def spend_decision(store: SpendStore) -> Operation:
    """A request's quotas as the gateway holds them: its key's daily and its user's
    monthly, held, then settled at half the hold."""
    tag = secrets.token_hex(4)
    now = datetime.now(UTC)
    key, user = Subject(SubjectKind.KEY, tag), Subject(SubjectKind.USER, tag)
    checks = [
        spend_check("key daily", key, "daily_spend", _HUGE, now, org_id=tag),
        spend_check("user monthly", user, "monthly_spend", _HUGE, now, org_id=tag),
    ]

    async def decide() -> None:
        hold_id = secrets.token_hex(8)
        decision = await store.hold(hold_id, checks, 1_000)
        assert decision.allowed
        await store.settle(hold_id, checks, 500)

    return decide


async def nothing_spent(_: Subject, __: Period) -> int:
    return 0


async def decisions_per_second(decide: Operation, ops: int) -> tuple[float, float]:
    """Decisions per second, sequential and over `_TASKS` tasks."""
    for _ in range(min(ops // 10, 1000)):
        await decide()
    started = time.perf_counter()
    for _ in range(ops):
        await decide()
    sequential = ops / (time.perf_counter() - started)

    async def worker(count: int) -> None:
        for _ in range(count):
            await decide()

    started = time.perf_counter()
    await asyncio.gather(*(worker(ops // _TASKS) for _ in range(_TASKS)))
    concurrent = (ops // _TASKS * _TASKS) / (time.perf_counter() - started)
    return sequential, concurrent


async def run_stores(ops: int, redis_url: str) -> None:
    print(f"\n{ops:,} decisions each; rate limits: 6 rate checks and 1 slot, admitted, then")
    print("finished (slot back, tokens corrected); spend quotas: 2 counters, held, settled")
    print(f"{'store':<21} {'mode':<12} {'decisions/s':>12} {'µs each':>9}")
    memory_spend = MemorySpendStore(nothing_spent)
    redis_spend = RedisSpendStore(redis_url, nothing_spent, hold_ttl_s=600)
    memory_limits, redis_limits = MemoryLimitStore(), RedisLimitStore(redis_url)
    stores: list[tuple[str, Operation, Callable[[], Awaitable[None]]]] = [
        ("rate limits, memory", rate_decision(memory_limits), memory_limits.close),
        ("rate limits, redis", rate_decision(redis_limits), redis_limits.close),
        ("spend quotas, memory", spend_decision(memory_spend), memory_spend.close),
        ("spend quotas, redis", spend_decision(redis_spend), redis_spend.close),
    ]
    for name, decide, close in stores:
        try:
            sequential, concurrent = await decisions_per_second(decide, ops)
        except (RedisError, OSError) as error:
            print(f"{name:<21} skipped: {error}")
            continue
        finally:
            await close()
        for mode, rate in (("sequential", sequential), (f"{_TASKS} tasks", concurrent)):
            print(f"{name:<21} {mode:<12} {rate:>12,.0f} {1e6 / rate:>9.1f}")


# ---------------------------------------------------------------- gateway

# What harness.provision creates.
ORG = "bench"
EMAIL = "bench@example.com"
# Never reached in a run, so never refusing, but each checked on every request: four
# limits of the key (one a spend quota, held and settled) and one of its organization.
KEY_LIMITS = (
    *("--rpm", "1000000000", "--tpm", "2000000000", "--concurrent", "100000"),
    *("--daily-spend", "1000000000"),
)
ORG_LIMITS = ("--rpm", "1000000000")
LIMIT_HEADER = "x-ratelimit-limit-requests"
BUDGET_P50_MS = 0.2  # issue 6, on the in-process store
# Before a gateway's first run of each scenario only (round 1), to keep a default run
# near three minutes; later rounds find it warm.
WARMUP_S = 1
# Before each measured run: the gateways wind down the requests the last wrk run cut off
# (both share core 0).
SETTLE_S = 0.3


def provisioned(workdir: Path, nginx_port: int, limits: bool) -> tuple[dict[str, str], str]:
    """harness.py's provisioning in `workdir` (in-process stores), with the limits or
    without; the environment and the key's secret."""
    workdir.mkdir()
    env = billing.billing_env(workdir, billing=True)
    secret = harness.provision(env, nginx_port)
    if limits:
        (key,) = json.loads(harness.aisonar(env, "key", "list", EMAIL, "--json"))
        harness.aisonar(env, "limits", "set", "--key", key["id"], *KEY_LIMITS)
        harness.aisonar(env, "limits", "set", "--org", ORG, *ORG_LIMITS)
    return env, secret


@contextmanager
def limits_gateways(workdir: Path, nginx_port: int) -> Iterator[tuple[billing.Target, ...]]:
    """(limits on, limits off), provisioned side by side (each CLI call starts Python)."""
    labels = {"on": True, "off": False}
    with ThreadPoolExecutor(len(labels)) as pool:
        futures = {
            label: pool.submit(provisioned, workdir / label, nginx_port, limits)
            for label, limits in labels.items()
        }
        setups = {label: future.result() for label, future in futures.items()}
    with ExitStack() as stack:
        targets = []
        for label, (env, secret) in setups.items():
            port, _ = stack.enter_context(harness.gateway(env, workdir / label, None))
            targets.append(billing.Target(label, workdir / label, secret, port))
        yield tuple(targets)


def limit_header(target: billing.Target, model: str, stream: bool) -> str | None:
    """One request through `target`: its x-ratelimit-limit-requests header, if any."""
    request = urllib.request.Request(
        target.url,
        data=harness.request_body(model, stream).encode(),
        headers={"Authorization": f"Bearer {target.secret}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            value: str | None = response.headers.get(LIMIT_HEADER)
            return value
    except urllib.error.HTTPError as error:
        body = error.read().decode(errors="replace")[:500]
        raise RuntimeError(f"limits {target.label}, {model}: HTTP {error.code}: {body}") from None


def check_headers(on: billing.Target, off: billing.Target) -> None:
    """Limits are checked through `on` and not through `off`, or the comparison is moot."""
    for model, stream in ((harness.MODEL_JSON, False), (harness.MODEL_SSE, True)):
        with_limits = limit_header(on, model, stream)
        if with_limits is None:
            raise RuntimeError(f"limits on, {model}: no {LIMIT_HEADER} header in the answer")
        without = limit_header(off, model, stream)
        if without is not None:
            raise RuntimeError(f"limits off, {model}: {LIMIT_HEADER}: {without}")
        print(f"{model}: limits on answers {LIMIT_HEADER}: {with_limits}; limits off, none")


def measure(
    target: billing.Target, scenario: harness.Scenario, seconds: int, warm_up: bool
) -> wrk.WrkResult:
    model = harness.MODEL_SSE if scenario.stream else harness.MODEL_JSON
    script = target.workdir / f"{model}.lua"
    script.write_text(wrk.lua_script(harness.request_body(model, scenario.stream), target.secret))
    if warm_up:
        wrk.run_wrk(target.url, script, scenario.connections, WARMUP_S)
    time.sleep(SETTLE_S)
    return wrk.run_wrk(target.url, script, scenario.connections, seconds)


def run_rounds(
    targets: tuple[billing.Target, ...], args: argparse.Namespace
) -> list[billing.Comparison]:
    """Every scenario through both, each round; the one measured first alternating."""
    on, off = targets
    scenarios = billing.gateway_scenarios(args.connections)
    runs: list[list[tuple[wrk.WrkResult, wrk.WrkResult]]] = [[] for _ in scenarios]
    for r in range(args.rounds):
        for i, scenario in enumerate(scenarios):
            if (r + i) % 2 == 0:
                result_on = measure(on, scenario, args.duration, r == 0)
                result_off = measure(off, scenario, args.duration, r == 0)
            else:
                result_off = measure(off, scenario, args.duration, r == 0)
                result_on = measure(on, scenario, args.duration, r == 0)
            runs[i].append((result_on, result_off))
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    return [
        billing.Comparison(
            scenario,
            wrk.combined([on for on, _ in pairs]),
            wrk.combined([off for _, off in pairs]),
            [on.p50_ms - off.p50_ms for on, off in pairs],
        )
        for scenario, pairs in zip(scenarios, runs, strict=True)
    ]


def print_comparisons(comparisons: list[billing.Comparison], rounds: int) -> None:
    print(f"\nmedians over {rounds} round(s):")
    print(billing.GATEWAY_HEADER)
    for c in comparisons:
        print(billing.format_comparison(c))
    print("\non-off p50 ms per round:")
    for c in comparisons:
        print(f"  {c.scenario.name:<26}" + "  ".join(f"{d:+.3f}" for d in c.p50_differences))
    for c in comparisons:
        if c.scenario.sequential:
            added = c.on.p50_ms - c.off.p50_ms
            verdict = "within" if added < BUDGET_P50_MS else "OVER"
            median = statistics.median(c.p50_differences)
            print(
                f"{c.scenario.name}: limits add {added:+.3f} ms p50 (median of the rounds' "
                f"differences {median:+.3f}), {verdict} the {BUDGET_P50_MS} ms budget"
            )
    for c in comparisons:
        for label, result in (("on", c.on), ("off", c.off)):
            if result.non_2xx or result.socket_errors:
                print(
                    f"  {c.scenario.name} limits {label}: non-2xx {result.non_2xx}, "
                    f"socket errors: {result.socket_errors or 'none'}"
                )


def run_gateways(args: argparse.Namespace, nginx: str, workdir: Path) -> None:
    print(f"\ngateway, limits on (in-process store) vs off: {args.duration} s per wrk run,")
    print(f"a {WARMUP_S} s warm-up before each in round 1; workers on core 0, wrk -t1 on core 1")
    with harness.nginx_upstream(nginx, workdir) as port, limits_gateways(workdir, port) as targets:
        on, off = targets
        check_headers(on, off)
        comparisons = run_rounds(targets, args)
    print_comparisons(comparisons, args.rounds)


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ops", type=int, default=20_000, help="Decisions per store row.")
    parser.add_argument("--duration", type=int, default=5, help="Seconds per wrk run.")
    parser.add_argument("--rounds", type=int, default=3, help="Gateway rounds (medians).")
    parser.add_argument("--connections", type=int, default=64, help="Throughput connections.")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    return parser.parse_args()


def benchmark(args: argparse.Namespace, nginx: str, workdir: Path) -> None:
    print(harness.machine())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_stores(args.ops, args.redis_url))
    run_gateways(args, nginx, workdir)


def main() -> int:
    return harness.run_benchmark(parse_args(), benchmark)


if __name__ == "__main__":
    sys.exit(main())
