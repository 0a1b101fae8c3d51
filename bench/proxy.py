"""The gateway against the floor, side by side in one run: bench/bare_proxy.py (uvicorn +
uvloop + httptools + one pooled aiohttp session, nothing else), then one `aisonar serve`
worker with every feature on: authentication, rate limits on the key and on the
organization, daily and monthly spend quotas, hold and settle, metering and metrics.
Each is pinned to core 0; nginx with canned OpenAI answers and wrk share core 1.

Per target: requests/s at `--connections` (JSON and streamed), the target's CPU per
request (its user + system time over the measured runs, divided by their requests), p50
and p99 at `--connections` (JSON), and the p50 it adds at one connection over nginx
answering directly (JSON and streamed: the canned stream comes in one write, so its
whole time is its first event's). Each figure is the median of `--runs` runs. For the
gateway also its event loop's lag under the JSON load (`aisonar_event_loop_lag_seconds`)
and, after `--soak` more requests, its resident memory; then the usage events it recorded
are counted against the requests wrk saw through it.

    python bench/proxy.py [--duration 8] [--runs 2] [--connections 64] [--soak 100000]
                          [--database-url URL --redis-url URL]

Prints figures; never fails on them. Exit 2 when wrk or nginx is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import harness
import wrk

LAG_METRIC = "aisonar_event_loop_lag_seconds_bucket"
UNLIMITED = "1000000000"
SOAK_CHUNK_S = 10


@dataclass(frozen=True)
class Load:
    """What one kind of request is: its model and whether it streams."""

    stream: bool

    @property
    def model(self) -> str:
        return harness.MODEL_SSE if self.stream else harness.MODEL_JSON

    @property
    def prefix(self) -> str:
        return harness.SSE_PREFIX if self.stream else harness.JSON_PREFIX


JSON, STREAM = Load(stream=False), Load(stream=True)


@dataclass(frozen=True)
class Measured:
    """wrk's figures over one scenario's runs, and the target's CPU time during them."""

    result: wrk.WrkResult
    cpu_s: float

    @property
    def cpu_per_request_ms(self) -> float:
        return self.cpu_s / max(self.result.requests, 1) * 1000


@dataclass
class TargetFigures:
    name: str
    throughput: dict[Load, Measured] = field(default_factory=dict)
    sequential: dict[Load, Measured] = field(default_factory=dict)
    lag_p99_ms: float | None = None
    lag_samples: int = 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Driver:
    """Runs wrk at one target (or straight at nginx) and measures the target's CPU."""

    def __init__(self, workdir: Path, secret: str, args: argparse.Namespace) -> None:
        self.workdir = workdir
        self.secret = secret
        self.args = args
        self.tally = harness.GatewayTally()
        # Whether the requests go through the gateway, whose usage events are counted.
        self.counting = False

    def script(self, load: Load) -> Path:
        path = self.workdir / f"{load.model}.lua"
        path.write_text(wrk.lua_script(harness.request_body(load.model, load.stream), self.secret))
        return path

    def measure(self, url: str, load: Load, connections: int, pid: int | None) -> Measured:
        script = self.script(load)
        self.counted(url, wrk.run_wrk(url, script, connections, harness.WARMUP_S), connections)
        results, cpu = [], 0.0
        for _ in range(self.args.runs):
            before = cpu_seconds(pid) if pid else 0.0
            result = wrk.run_wrk(url, script, connections, self.args.duration)
            cpu += cpu_seconds(pid) - before if pid else 0.0
            results.append(self.counted(url, result, connections))
        return Measured(wrk.combined(results), cpu)

    def counted(self, url: str, result: wrk.WrkResult, connections: int) -> wrk.WrkResult:
        if self.counting and "/v1/" in url:
            self.tally.add(result, connections)
        return result


def lag_buckets(port: int) -> dict[float, float]:
    """The cumulative counts of the gateway's event loop lag histogram, by bound (s)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(LAG_METRIC):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(line.rsplit(" ", 1)[1])
    return buckets


def p99_bound_ms(before: dict[float, float], after: dict[float, float]) -> tuple[float, int]:
    """The smallest bucket bound (ms) at or under which 99 % of the lag samples taken
    between two scrapes fell, and how many samples there were."""
    counts = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    total = counts.get(float("inf"), 0.0)
    for bound, count in counts.items():
        if total and count >= 0.99 * total:
            return bound * 1000, int(total)
    return float("nan"), int(total)


def measure_target(driver: Driver, name: str, port: int, pid: int) -> TargetFigures:
    figures = TargetFigures(name)
    url = f"http://127.0.0.1:{port}/v1{harness.CHAT_PATH}"
    for load in (JSON, STREAM):
        figures.sequential[load] = driver.measure(url, load, 1, pid)
    lag_before = lag_buckets(port) if driver.counting else {}
    for load in (JSON, STREAM):
        figures.throughput[load] = driver.measure(url, load, driver.args.connections, pid)
        if load is JSON and lag_before:
            figures.lag_p99_ms, figures.lag_samples = p99_bound_ms(lag_before, lag_buckets(port))
    return figures


def redis_calls(url: str | None) -> dict[str, int]:
    """The calls Redis has served so far, by command (`INFO commandstats`); on a Redis
    Cluster summed over its masters."""
    if not url:
        return {}
    from redis import Redis

    from aisonar.store.redis_client import CLUSTER_SCHEMES, topology

    if url.partition("://")[0] not in CLUSTER_SCHEMES:
        with Redis.from_url(url) as client:
            return _calls(client.info("commandstats"))
    host, port = topology(url).nodes[0]
    with Redis(host=host, port=port) as first:
        nodes: dict[str, dict[str, str]] = first.execute_command("CLUSTER NODES")
    calls: dict[str, int] = {}
    for address, node in nodes.items():
        if "master" not in node["flags"].split(","):
            continue
        node_host, _, node_port = address.rpartition(":")
        with Redis(host=node_host, port=int(node_port)) as client:
            for name, count in _calls(client.info("commandstats")).items():
                calls[name] = calls.get(name, 0) + count
    return calls


def _calls(stats: dict[str, dict[str, int]]) -> dict[str, int]:
    return {name.removeprefix("cmdstat_"): int(stat["calls"]) for name, stat in stats.items()}


def report_redis_calls(before: dict[str, int], after: dict[str, int], requests: int) -> None:
    """Scripts (one round trip each) and commands per request: Redis counts the commands
    a script runs as well as the script's own call."""
    made = {name: calls - before.get(name, 0) for name, calls in after.items()}
    made = {name: calls for name, calls in made.items() if calls > 0 and name != "info"}
    if not (made and requests):
        return
    scripts = made.get("evalsha", 0) + made.get("eval", 0)
    print(
        f"Redis per request: {scripts / requests:.2f} scripts (a round trip each), "
        f"{sum(made.values()) / requests:.1f} commands in all, over {requests:,} requests"
    )


def limit_everything(env: dict[str, str]) -> None:
    """Rate limits on the key and the organization, and spend quotas, all far above what
    the run reaches: checked on every request, never refusing."""
    keys = json.loads(harness.aisonar(env, "key", "list", "bench@example.com", "--json"))
    rates = ["--rpm", UNLIMITED, "--tpm", UNLIMITED, "--concurrent", "100000"]
    harness.aisonar(env, "limits", "set", "--key", keys[0]["id"], *rates)
    spend = ["--daily-spend", "1000000", "--monthly-spend", "1000000"]
    harness.aisonar(env, "limits", "set", "--org", "bench", *rates, *spend)


def soak(driver: Driver, port: int, requests: int) -> int:
    """Keep the JSON load on until the gateway has served `requests` in all."""
    url = f"http://127.0.0.1:{port}/v1{harness.CHAT_PATH}"
    script = driver.script(JSON)
    while driver.tally.requests < requests:
        driver.counted(url, wrk.run_wrk(url, script, 64, SOAK_CHUNK_S), 64)
    return driver.tally.requests


# ---------------------------------------------------------------- report


def _ms(value: float) -> str:
    return f"{value:.2f}"


def report(rows: list[TargetFigures], nginx: dict[Load, Measured], connections: int) -> None:
    head = f"{'target':<20}{'json req/s':>11}{'stream req/s':>13}{'CPU/req json/stream ms':>24}"
    head += f"{f'p50/p99 @{connections} json ms':>22}{'added p50 @1 json/stream ms':>29}"
    print(head)
    for row in rows:
        json_m, stream_m = row.throughput[JSON], row.throughput[STREAM]
        added = [row.sequential[load].result.p50_ms - nginx[load].result.p50_ms for load in nginx]
        print(
            f"{row.name:<20}{json_m.result.requests_per_s:>11,.0f}"
            f"{stream_m.result.requests_per_s:>13,.0f}"
            f"{_ms(json_m.cpu_per_request_ms) + ' / ' + _ms(stream_m.cpu_per_request_ms):>24}"
            f"{_ms(json_m.result.p50_ms) + ' / ' + _ms(json_m.result.p99_ms):>22}"
            f"{_ms(added[0]) + ' / ' + _ms(added[1]):>29}"
        )
    if len(rows) == 2:
        report_ratios(*rows)
    for row in rows:
        if row.lag_p99_ms is not None:
            print(
                f"{row.name}: event loop lag p99 under the json load <= {row.lag_p99_ms:g} ms "
                f"({row.lag_samples:,} samples)"
            )


def report_ratios(bare: TargetFigures, gateway: TargetFigures) -> None:
    share = {
        load: gateway.throughput[load].result.requests_per_s
        / bare.throughput[load].result.requests_per_s
        for load in (JSON, STREAM)
    }
    tail = gateway.throughput[JSON].result.p99_ms / bare.throughput[JSON].result.p99_ms
    extra = {
        load: gateway.sequential[load].result.p50_ms - bare.sequential[load].result.p50_ms
        for load in (JSON, STREAM)
    }
    print(
        f"\n{gateway.name} / {bare.name}: throughput json {share[JSON]:.0%}, stream "
        f"{share[STREAM]:.0%} (goal >= 50%); p99 at load {tail:.1f}x (goal <= 3x); "
        f"p50 added at 1 connection over the floor: json {extra[JSON]:+.2f} ms, stream "
        f"{extra[STREAM]:+.2f} ms (goal <= 0.3)"
    )


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=8, help="Seconds per measured run.")
    parser.add_argument("--runs", type=int, default=2, help="Runs per figure (median).")
    parser.add_argument("--connections", type=int, default=64, help="Throughput connections.")
    parser.add_argument(
        "--soak", type=int, default=0, help="Requests to serve in all before reading RSS."
    )
    parser.add_argument("--database-url", help="AISONAR_DATABASE_URL for the gateway.")
    parser.add_argument("--redis-url", help="AISONAR_REDIS_URL for the gateway.")
    parser.add_argument("--gateway-only", action="store_true", help="Skip the floor.")
    return parser.parse_args()


def benchmark(args: argparse.Namespace, nginx_binary: str, workdir: Path) -> None:
    env = harness.aisonar_env(workdir / "data")
    for variable, value in (("DATABASE", args.database_url), ("REDIS", args.redis_url)):
        if value:
            env[f"AISONAR_{variable}_URL"] = value
    with harness.nginx_upstream(nginx_binary, workdir) as nginx_port:
        secret = harness.provision(env, nginx_port)
        limit_everything(env)
        driver = Driver(workdir, secret, args)
        direct = f"http://127.0.0.1:{nginx_port}"
        nginx = {
            load: driver.measure(direct + load.prefix + harness.CHAT_PATH, load, 1, None)
            for load in (JSON, STREAM)
        }
        print(harness.machine())
        print(f"{args.runs} x {args.duration} s per figure after a {harness.WARMUP_S} s warm-up")
        print(
            f"nginx direct p50 at 1 connection: json {nginx[JSON].result.p50_ms:.2f} ms, ", end=""
        )
        print(f"stream {nginx[STREAM].result.p50_ms:.2f} ms\n", flush=True)
        rows = []
        if not args.gateway_only:
            with harness.gateway(env, workdir, direct) as (port, process):
                rows.append(measure_target(driver, "bare", port, process.pid))
        driver.counting = True
        calls_before = redis_calls(args.redis_url)
        with harness.gateway(env, workdir, None) as (port, process):
            rows.append(measure_target(driver, "AI Sonar", port, process.pid))
            served = soak(driver, port, args.soak) if args.soak else driver.tally.requests
            rss = harness.rss_mib(process.pid)
            exit_code = harness.stop_process(process)
    report(rows, nginx, args.connections)
    print(f"\nAI Sonar RSS after {served:,} requests: {rss or 0:.1f} MiB")
    report_redis_calls(calls_before, redis_calls(args.redis_url), served)
    if not args.database_url:
        harness.print_usage(workdir / "data" / "aisonar.db", driver.tally, exit_code)


def main() -> int:
    return harness.run_benchmark(parse_args(), benchmark)


if __name__ == "__main__":
    sys.exit(main())
