"""How fast the limit stores decide: one request's checks as the gateway will make them
(requests and tokens per minute for its key, user and organization, and a concurrency
slot), admitted and then released, on `MemoryLimitStore` and `RedisLimitStore`.
`--ops` decisions one after another, then the same spread over 64 asyncio tasks, on
uvloop as in the gateway. Redis is skipped when unreachable.

    python bench/limits.py [--ops 20000] [--redis-url redis://127.0.0.1:6379/0]

Prints figures; never fails on them."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path

import uvloop
from redis.exceptions import RedisError

from aisonar.limits.memory_store import MemoryLimitStore
from aisonar.limits.redis_store import RedisLimitStore
from aisonar.limits.store import LimitStore, RateCheck, SlotCheck

sys.path.insert(0, str(Path(__file__).parent))
import proxy

_TASKS = 64
# Limits far above what a run can reach, so every decision is a full admission.
_HUGE = 10**12


def request_checks() -> tuple[list[RateCheck], list[SlotCheck]]:
    tag = secrets.token_hex(4)
    rates = [
        RateCheck(f"{level} {unit}", f"{tag}:{level}:{unit}", _HUGE, 60.0, cost)
        for level in ("key", "user", "org")
        for unit, cost in (("rpm", 1), ("tpm", 500))
    ]
    return rates, [SlotCheck("key concurrent", f"{tag}:key:slots", _HUGE, 600.0)]


async def decide(store: LimitStore, rates: list[RateCheck], slots: list[SlotCheck]) -> None:
    request_id = secrets.token_hex(8)
    decision = await store.admit(request_id, rates, slots)
    assert decision.allowed
    await store.release(request_id, slots)


async def measure(store: LimitStore, ops: int) -> tuple[float, float]:
    """Decisions per second, sequential and over `_TASKS` tasks."""
    rates, slots = request_checks()
    for _ in range(min(ops // 10, 1000)):
        await decide(store, rates, slots)
    started = time.perf_counter()
    for _ in range(ops):
        await decide(store, rates, slots)
    sequential = ops / (time.perf_counter() - started)

    async def worker(count: int) -> None:
        for _ in range(count):
            await decide(store, rates, slots)

    started = time.perf_counter()
    await asyncio.gather(*(worker(ops // _TASKS) for _ in range(_TASKS)))
    concurrent = (ops // _TASKS * _TASKS) / (time.perf_counter() - started)
    return sequential, concurrent


async def run(ops: int, redis_url: str) -> None:
    print(f"{ops:,} decisions each: 6 rate checks and 1 slot, admitted then released\n")
    print(f"{'store':<12} {'mode':<12} {'decisions/s':>12} {'µs each':>9}")
    stores: list[tuple[str, LimitStore]] = [("in-process", MemoryLimitStore())]
    stores.append(("redis", RedisLimitStore(redis_url)))
    for name, store in stores:
        try:
            sequential, concurrent = await measure(store, ops)
        except (RedisError, OSError) as error:
            print(f"{name:<12} skipped: {error}")
            continue
        finally:
            await store.close()
        for mode, rate in (("sequential", sequential), (f"{_TASKS} tasks", concurrent)):
            print(f"{name:<12} {mode:<12} {rate:>12,.0f} {1e6 / rate:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(proxy.machine())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run(args.ops, args.redis_url))


if __name__ == "__main__":
    main()
