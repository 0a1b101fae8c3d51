"""What a run budget adds to a request: the request's two calls of its counters as the
gateway makes them (its rate limit, slot and balance held at once; then settled and its
slot given back at once), without a run and with one (`x-aisonar-run-id`), on the
in-process counters and on Redis (one script per call either way), one after another and
over 64 asyncio tasks on uvloop; and reading the run's two headers. On Redis also the
time Redis itself spent in the request's two scripts and the commands they ran (INFO
commandstats: `evalsha`, and every other command; on a Redis others use meanwhile, their
scripts count too: give the benchmark a Redis of its own for these figures).

    python bench/run_budget.py [--requests 20000] [--redis-url redis://127.0.0.1:6379/0]

Prints figures; never fails on them. Redis is skipped when unreachable."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
import timeit
from collections.abc import Awaitable, Callable

import uvloop
from redis.asyncio import Redis
from redis.exceptions import RedisError

from aisonar.billing.memory_store import MemoryBalanceStore
from aisonar.billing.redis_store import RedisBalanceStore
from aisonar.billing.store import DurableBalance, Hold
from aisonar.gateway.counters import DONE, Admit, Counters, Finish, HoldOn, LocalCounters, Settle
from aisonar.gateway.redis_counters import RedisCounters
from aisonar.gateway.run_budget import run_of
from aisonar.limits.memory_spend import MemorySpendStore
from aisonar.limits.memory_store import MemoryLimitStore
from aisonar.limits.models import Subject
from aisonar.limits.redis_spend import RedisSpendStore
from aisonar.limits.redis_store import RedisLimitStore
from aisonar.limits.run_budget import RunCheck
from aisonar.limits.spend import Period
from aisonar.limits.store import RateCheck, SlotCheck

_TASKS = 64
# Far above what a run reaches, so every call is a full decision that is never refused.
_HUGE = 10**15
_HOLD, _COST = 1_000, 400

Request = Callable[[], Awaitable[None]]


async def _balance(_: str) -> DurableBalance:
    return DurableBalance(_HUGE, 0)


async def _spent(_: Subject, __: Period) -> int:
    return 0


def request(counters: Counters, *, with_run: bool) -> Request:
    tag = secrets.token_hex(4)
    org_id = "org_" + tag
    admit = Admit(
        [RateCheck("key rpm", f"{tag}:rpm", _HUGE, 60.0, 1)],
        [SlotCheck("key concurrent", f"{tag}:slots", _HUGE, 600.0)],
    )
    run = RunCheck(org_id, "run-" + tag, _HUGE) if with_run else None

    async def one() -> None:
        request_id = secrets.token_hex(8)
        held = await counters.run(request_id, admit=admit, hold=HoldOn((), org_id, _HOLD, run))
        assert held.refused is None
        settle = Settle((), Hold(org_id, _HOLD, request_id), _COST, run)
        finish = Finish(admit.slots, (), 0)
        assert await counters.run(request_id, settle=settle, finish=finish) == DONE

    return one


async def microseconds(one: Request, requests: int) -> tuple[float, float]:
    """µs per request, one after another and over `_TASKS` tasks."""
    for _ in range(min(requests // 10, 1000)):
        await one()
    started = time.perf_counter()
    for _ in range(requests):
        await one()
    sequential = (time.perf_counter() - started) / requests * 1e6

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    each = requests // _TASKS
    started = time.perf_counter()
    await asyncio.gather(*(worker(each) for _ in range(_TASKS)))
    concurrent = (time.perf_counter() - started) / (each * _TASKS) * 1e6
    return sequential, concurrent


async def evalsha(redis: Redis | None) -> tuple[int, int, int]:
    """Redis's own count of script calls, the µs it spent in them, and the commands the
    scripts ran (every other command but INFO)."""
    if redis is None:
        return 0, 0, 0
    stats = await redis.info("commandstats")
    scripts = stats.get("cmdstat_evalsha", {})
    commands = sum(
        int(figures["calls"])
        for name, figures in stats.items()
        if name not in ("cmdstat_evalsha", "cmdstat_info")
    )
    return int(scripts.get("calls", 0)), int(scripts.get("usec", 0)), commands


async def compare(name: str, counters: Counters, requests: int, redis: Redis | None = None) -> None:
    # Alternated, three rounds each: the median of each.
    figures: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    server: dict[bool, list[float]] = {False: [], True: []}
    commands: dict[bool, float] = {}
    for _ in range(3):
        for with_run in (False, True):
            one = request(counters, with_run=with_run)
            calls, usec, ran = await evalsha(redis)
            figures[with_run].append(await microseconds(one, requests))
            after_calls, after_usec, after_ran = await evalsha(redis)
            if after_calls > calls:
                server[with_run].append((after_usec - usec) / (after_calls - calls) * 2)
                commands[with_run] = (after_ran - ran) / (after_calls - calls) * 2
    for mode in (0, 1):
        without = sorted(f[mode] for f in figures[False])[1]
        with_ = sorted(f[mode] for f in figures[True])[1]
        label = "sequential" if mode == 0 else f"{_TASKS} tasks"
        print(f"{name:<10} {label:<11} {without:>12.1f} {with_:>12.1f} {with_ - without:>+10.1f}")
    if server[False] and server[True]:
        without, with_ = sorted(server[False])[1], sorted(server[True])[1]
        label = "in Redis"
        print(f"{name:<10} {label:<11} {without:>12.1f} {with_:>12.1f} {with_ - without:>+10.1f}")
        without, with_ = commands[False], commands[True]
        label = "commands"
        print(f"{name:<10} {label:<11} {without:>12.1f} {with_:>12.1f} {with_ - without:>+10.1f}")


def header_reading() -> None:
    headers = {
        b"authorization": b"Bearer sk-sonar-x",
        b"content-type": b"application/json",
        b"x-aisonar-run-id": b"nightly-triage-2026-05-01",
        b"x-aisonar-run-budget": b"2.50",
    }
    plain = {k: v for k, v in headers.items() if not k.startswith(b"x-aisonar-run")}
    n = 200_000
    named = timeit.timeit(lambda: run_of(headers, "org_1"), number=n) / n * 1e6
    unnamed = timeit.timeit(lambda: run_of(plain, "org_1"), number=n) / n * 1e6
    print(f"\nreading the run's headers: {named:.2f} µs with them, {unnamed:.2f} µs without")


async def main(requests: int, redis_url: str) -> None:
    print(f"{requests:,} requests each (two calls of the counters per request), µs per request")
    print(f"{'counters':<10} {'mode':<11} {'without run':>12} {'with run':>12} {'added':>10}")
    local = LocalCounters(
        MemoryLimitStore(), MemorySpendStore(_spent), MemoryBalanceStore(_balance)
    )
    await compare("memory", local, requests)
    limits = RedisLimitStore(redis_url)
    spend = RedisSpendStore(redis_url, _spent, hold_ttl_s=600)
    balance = RedisBalanceStore(redis_url, _balance, hold_ttl_s=600)
    counters = RedisCounters(redis_url, limits, spend, balance)
    redis = Redis.from_url(redis_url)
    try:
        await compare("redis", counters, requests, redis)
    except (RedisError, OSError) as error:
        print(f"redis      skipped: {error}")
    finally:
        await redis.aclose()
        for store in (counters, limits, spend, balance):
            await store.close()
    header_reading()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    arguments = parser.parse_args()
    uvloop.run(main(arguments.requests, arguments.redis_url))
