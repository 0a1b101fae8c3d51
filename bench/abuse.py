"""Abuse detection's figures: how long each scenario takes to become a finding, how many
findings a normal week raises, what a detection round costs, and what detection adds to
the hot path.

1. A week of the usage generator's traffic (`--orgs` organizations of 5 keys, each key's
   clients on its own /24, `--per-second` events per second) is written straight into an
   embedded SQLite database, then a key sharing round runs at the end of each hour of the
   last day: the false positives, and the round's time.
2. A gateway (in-process, the fake upstream behind it, `AISONAR_ABUSE_INTERVAL_S` =
   `--interval`, default the server's 30 s) serves three scenarios from client addresses
   set by X-Forwarded-For (loopback is a trusted proxy): one key used from 50 networks,
   a key scan (30 unknown keys from one address), a credential stuffing run (10 accounts
   from one address), then 100 requests of that key within ten minutes (velocity; the key
   has no history). The delay is from the scenario's last request to the finding's row,
   polled every 50 ms.
3. The hot path: `authenticate` alone (a known key, an unknown one) with the refused-key
   counter on and off, in µs per call; then `--requests` sequential chat requests
   through a gateway with detection on and one with it off, known keys and unknown ones,
   in µs per request (the median of `--runs` alternating runs).

    python bench/abuse.py [--orgs 100] [--per-second 0.3] [--interval 30]
                          [--requests 500] [--runs 3]

Prints figures; never fails on them."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.abuse.models import FindingKind
from aisonar.abuse.services import list_findings
from aisonar.abuse.sharing import SharingFloors, shared_keys
from aisonar.abuse.tallies import RefusedKeys
from aisonar.accounts import services as accounts
from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.billing.money import parse_amount
from aisonar.channels import services as channels
from aisonar.clock import utcnow
from aisonar.config import Settings
from aisonar.crypto import SecretBox
from aisonar.errors import AISonarError
from aisonar.gateway.auth import KeyCache, authenticate
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.store.tables import usage_events
from aisonar.testing.fake_upstream import FakeUpstream, FakeUpstreamConfig
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from aisonar.testing.usage_traffic import generated
from aisonar.usage.models import UsageEvent

UPSTREAM_KEY = "sk-upstream-bench"
COLUMNS = [field.name for field in fields(UsageEvent)]
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


async def normal_week(engine: AsyncEngine, orgs: int, per_second: float) -> None:
    end = utcnow().replace(minute=0, second=0, microsecond=0)
    count = int(7 * 24 * 3600 * per_second)
    source = generated(orgs, end - timedelta(days=7), per_second=per_second, seed=26)
    began = time.perf_counter()
    async with engine.begin() as conn:
        while batch := list(itertools.islice(source, min(5000, count))):
            rows = [{name: getattr(event, name) for name in COLUMNS} for event in batch]
            await conn.execute(insert(usage_events), rows)
            count -= len(batch)
    print(
        f"normal week: {int(7 * 24 * 3600 * per_second):,} events of {orgs} organizations "
        f"written in {time.perf_counter() - began:.1f} s"
    )
    settings = Settings()
    for name, floors in (
        (
            "default floors",
            SharingFloors(settings.abuse_key_addresses_floor, settings.abuse_key_networks_floor),
        ),
        ("address floor 4", SharingFloors(4, 2)),
    ):
        raised, took = 0, []
        async with engine.connect() as conn:
            for hour in range(24):
                began = time.perf_counter()
                raised += len(await shared_keys(conn, end - timedelta(hours=hour), floors))
                took.append((time.perf_counter() - began) * 1000)
        print(
            f"  {name}: {raised} false positives in 24 hourly rounds "
            f"({orgs * 5} keys); key sharing round median {statistics.median(took):.1f} ms, "
            f"max {max(took):.1f} ms"
        )


async def provision(engine: AsyncEngine, box: SecretBox, upstream: FakeUpstream) -> tuple[str, str]:
    """An organization with credits and a key; the fake upstream as its channel."""
    async with engine.begin() as conn:
        await channels.create_channel(
            conn,
            box,
            name="fake",
            provider="openai",
            base_url=upstream.url,
            api_key=UPSTREAM_KEY,
            models="gpt-4o-mini",
        )
        name = f"bench-{secrets.token_hex(4)}"
        org = await accounts.create_org(conn, name)
        user = await accounts.create_user(conn, f"{name}@example.com", name)
        key, secret = await accounts.create_key(conn, user.email)
        await ledger.credit(
            conn, org.id, NewEntry(LedgerKind.RECHARGE, parse_amount("100000"), "bench", "bench")
        )
    return key.id, secret


async def chat(http: aiohttp.ClientSession, url: str, secret: str, address: str) -> int:
    headers = {"Authorization": f"Bearer {secret}", "X-Forwarded-For": address}
    async with http.post(url + "/v1/chat/completions", json=CHAT, headers=headers) as answer:
        await answer.read()
        return answer.status


async def sign_in(http: aiohttp.ClientSession, url: str, email: str, address: str) -> int:
    body = {"email": email, "password": "not-the-password"}
    headers = {"X-Forwarded-For": address}
    async with http.post(url + "/api/session", json=body, headers=headers) as answer:
        await answer.read()
        return answer.status


async def found_after(engine: AsyncEngine, kind: FindingKind, subject: str) -> float:
    """Seconds until a finding of this kind about this subject is recorded."""
    began = time.perf_counter()
    while True:
        async with engine.connect() as conn:
            if any(f.subject_id == subject for f in await list_findings(conn, kind=kind)):
                return time.perf_counter() - began
        await asyncio.sleep(0.05)


async def scenarios(engine: AsyncEngine, gateway: RunningGateway, key_id: str, secret: str) -> None:
    url = gateway.url
    async with aiohttp.ClientSession() as http:
        began = time.perf_counter()
        for network in range(50):
            await chat(http, url, secret, f"100.{64 + network}.7.9")
        sent = time.perf_counter() - began
        delay = await found_after(engine, FindingKind.KEY_SHARING, key_id)
        print(f"  key sharing (50 networks, sent in {sent:.1f} s): found {delay:.2f} s after")
        scanner = "198.18.3.4"
        began = time.perf_counter()
        for _ in range(30):
            await chat(http, url, f"sk-sonar-{secrets.token_urlsafe(32)}", scanner)
        sent = time.perf_counter() - began
        delay = await found_after(engine, FindingKind.KEY_SCANNING, scanner)
        print(f"  key scan (30 unknown keys, sent in {sent:.1f} s): found {delay:.2f} s after")
        stuffer = "198.18.5.6"
        began = time.perf_counter()
        for number in range(10):
            await sign_in(http, url, f"victim-{number}@example.com", stuffer)
        sent = time.perf_counter() - began
        delay = await found_after(engine, FindingKind.CREDENTIAL_STUFFING, stuffer)
        print(f"  stuffing (10 accounts, sent in {sent:.1f} s): found {delay:.2f} s after")
        began = time.perf_counter()
        for number in range(Settings().abuse_velocity_requests_floor):
            await chat(http, url, secret, f"192.0.2.{number % 200 + 1}")
        sent = time.perf_counter() - began
        delay = await found_after(engine, FindingKind.VELOCITY, key_id)
        print(
            f"  velocity (100 requests, no history, sent in {sent:.1f} s): "
            f"found {delay:.2f} s after"
        )


async def per_call_us(call: Callable[[], Awaitable[object]], count: int) -> float:
    began = time.perf_counter()
    for _ in range(count):
        await call()
    return (time.perf_counter() - began) / count * 1e6


async def authenticate_cost(engine: AsyncEngine, secret: str, runs: int) -> None:
    """Alternating runs of 50,000 calls each, detection off and on; the medians."""
    unknown = f"sk-sonar-{secrets.token_urlsafe(32)}"
    figures: dict[tuple[str, str], list[float]] = {}
    caches = {"off": KeyCache(engine, 10_000), "on": KeyCache(engine, 10_000, RefusedKeys())}
    for _ in range(max(runs, 5)):
        for name, cache in caches.items():

            async def known(cache: KeyCache = cache) -> object:
                return await authenticate(cache, secret, "192.0.2.1")

            async def stranger(cache: KeyCache = cache) -> object:
                try:
                    return await authenticate(cache, unknown, "192.0.2.1")
                except AISonarError as refused_key:
                    return refused_key

            for kind, call in (("known key", known), ("unknown key", stranger)):
                await call()
                figures.setdefault((kind, name), []).append(await per_call_us(call, 50_000))
    for kind in ("known key", "unknown key"):
        with_it = statistics.median(figures[(kind, "on")])
        without = statistics.median(figures[(kind, "off")])
        print(
            f"  authenticate, {kind}: detection on {with_it:.2f} µs, off {without:.2f} µs "
            f"per call ({with_it - without:+.2f} µs)"
        )


async def request_cost(
    settings: Settings, engine: AsyncEngine, secret: str, requests: int, runs: int
) -> None:
    figures: dict[tuple[str, str], list[float]] = {}
    unknown = f"sk-sonar-{secrets.token_urlsafe(32)}"
    for _ in range(runs):
        for name, on in (("on", True), ("off", False)):
            changed = settings.model_copy(update={"abuse_detection": on})
            async with running_gateway(changed) as gateway, aiohttp.ClientSession() as http:
                for kind, key in (("known key", secret), ("unknown key", unknown)):
                    await chat(http, gateway.url, key, "192.0.2.1")

                    async def one(key: str = key, url: str = gateway.url) -> object:
                        return await chat(http, url, key, "192.0.2.1")

                    figures.setdefault((kind, name), []).append(await per_call_us(one, requests))
    for kind in ("known key", "unknown key"):
        with_it = statistics.median(figures[(kind, "on")])
        without = statistics.median(figures[(kind, "off")])
        print(
            f"  {requests} sequential requests, {kind}: detection on {with_it:.0f} µs, "
            f"off {without:.0f} µs per request ({with_it - without:+.0f} µs)"
        )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = Settings(
            data_dir=data, abuse_interval_s=args.interval, usage_flush_interval_s=0.25
        )
        settings.make_data_dir()
        engine = create_engine(settings.resolved_database_url)
        await upgrade_to_head(engine)
        await normal_week(engine, args.orgs, args.per_second)
        box = SecretBox(settings.resolved_secret_key())
        async with FakeUpstream(FakeUpstreamConfig(api_key=UPSTREAM_KEY), port=0) as upstream:
            key_id, secret = await provision(engine, box, upstream)
            print(
                f"detection delay (AISONAR_ABUSE_INTERVAL_S={args.interval:g}, usage flush "
                f"{settings.usage_flush_interval_s:g} s):"
            )
            async with running_gateway(settings) as gateway:
                await scenarios(engine, gateway, key_id, secret)
            print("hot path:")
            await authenticate_cost(engine, secret, args.runs)
            quiet = settings.model_copy(update={"abuse_interval_s": 3600.0})
            await request_cost(quiet, engine, secret, args.requests, args.runs)
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--per-second", type=float, default=0.3)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
