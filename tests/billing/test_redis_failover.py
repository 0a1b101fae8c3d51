"""A Redis master failed over by its Sentinel while requests spend an organization's
balance: the store follows the Sentinel to the new master and keeps serving, and the most
it can overspend is what was settled on the old master between the failover's start and
the clients' move (replication is asynchronous: writes the replica had not received when
it was promoted are lost; docs/scale-out.md says so)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess

from aisonar.billing.redis_store import RedisBalanceStore
from aisonar.billing.store import DurableBalance, InsufficientBalance
from aisonar.store.redis_client import UNREACHABLE
from tests.redis_topologies import SERVICE, SentinelSetup

BALANCE = 6_000
SPENDERS = 8


async def load(_: str) -> DurableBalance:
    return DurableBalance(balance=BALANCE, through_entry=0)


async def test_a_master_failed_over_under_load_overspends_at_most_its_window(
    redis_sentinel: SentinelSetup,
) -> None:
    store = RedisBalanceStore(redis_sentinel.url, load, hold_ttl_s=60)
    org = "org_" + secrets.token_hex(8)
    spent = 0
    started = asyncio.Event()

    async def spend() -> None:
        nonlocal spent
        while True:
            try:
                hold = await store.hold(org, 1, "req_" + secrets.token_hex(8))
                await store.settle(hold, 1)
            except InsufficientBalance:
                return
            except UNREACHABLE:
                # The old master refusing writes, or gone: ask the Sentinel again.
                await asyncio.sleep(0.05)
                continue
            spent += 1
            if spent == BALANCE // 10:
                started.set()

    try:
        old_master = redis_sentinel.master()
        spenders = [asyncio.create_task(spend()) for _ in range(SPENDERS)]
        await started.wait()
        before = spent
        await asyncio.to_thread(
            subprocess.run,
            ["redis-cli", "-p", str(redis_sentinel.sentinel_port), "sentinel", "failover", SERVICE],
            check=True,
            capture_output=True,
        )
        # Until the old master is a replica, refusing writes, clients may still write to it.
        for _ in range(600):
            if redis_sentinel.master() != old_master and _replica(old_master):
                break
            await asyncio.sleep(0.05)
        window = spent - before
        await asyncio.gather(*spenders)
        assert redis_sentinel.master() != old_master
        # It serves on the new master (the spenders may have used the whole balance up
        # before the old master became a replica, on a fast machine).
        another = "org_" + secrets.token_hex(8)
        await store.settle(await store.hold(another, 1, "req_" + secrets.token_hex(8)), 1)
    finally:
        await store.close()
    assert BALANCE <= spent <= BALANCE + window


def _replica(port: int) -> bool:
    described = subprocess.run(
        ["redis-cli", "-p", str(port), "info", "replication"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return "role:slave" in described
