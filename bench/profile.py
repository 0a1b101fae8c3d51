"""Where the gateway's CPU goes per request: py-spy samples every thread of one gateway
worker under wrk load (the setup of bench/proxy.py, every feature on), and each sample is
put in the stage of the hot path it belongs to. Prints microseconds of CPU per request by
stage: the CPU budget table of bench/README.md.

    python bench/profile.py [--duration 10] [--stream] [--rate 997] [--flame out.txt]

The gateway's CPU per request is measured from /proc (user + system time over the wrk
run, divided by the requests wrk completed); the stages split it in proportion to the
samples that fell in each. A sample is put in the stage of the innermost frame that
`STAGES` recognises, so a JSON decode called by admission counts as admission. Needs
py-spy (`pip install py-spy`), wrk and nginx; exit 2 when one is missing.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import harness
import proxy
import wrk

# (stage, pattern on "file:function" of a frame), innermost frame first. The first rule
# that matches any frame, walking from the innermost outwards, names the sample's stage.
STAGES: Sequence[tuple[str, str]] = (
    ("record: usage writer thread", r"aisonar/usage/writer\.py|aiosqlite"),
    ("record: ledger writer", r"aisonar/billing/ledger_writer\.py"),
    ("metrics", r"aisonar/observability/|prometheus_client"),
    ("record", r"aisonar/gateway/metering\.py|pipeline\.py:record|aisonar/usage/"),
    ("auth", r"aisonar/gateway/auth\.py|aisonar/accounts/"),
    ("admission (limits, quotas)", r"aisonar/gateway/(admission|quotas)\.py|aisonar/limits/"),
    ("hold / settle", r"aisonar/gateway/charging\.py|aisonar/billing/"),
    ("route", r"aisonar/gateway/(routing|failover)\.py|aisonar/channels/"),
    (
        "relay (answer to client)",
        r"aisonar/gateway/(relay|sse)\.py|aisonar/gateway/wire/(dialect|\w+/client)\.py",
    ),
    ("forward (upstream client)", r"aisonar/gateway/upstream\.py|aiohttp/"),
    (
        "parse (body, call)",
        r"aisonar/gateway/(body/|generation|wire/\w+/(format|errors|embeddings\w*)\.py)|orjson",
    ),
    ("pipeline, edge, ASGI", r"aisonar/gateway/|aisonar/web/"),
    ("HTTP server (uvicorn)", r"uvicorn/|httptools"),
    ("event loop", r"asyncio/|uvloop"),
)
OTHER = "other (GC, imports, interpreter)"
WARMUP_S = 6


def stage_of(stack: str) -> str:
    """The stage of one collapsed stack ("outer;...;inner", frames "func (file:line)")."""
    frames = stack.split(";")
    for frame in reversed(frames):
        for stage, pattern in STAGES:
            if re.search(pattern, _frame_key(frame)):
                return stage
    return OTHER


def _frame_key(frame: str) -> str:
    """`func (path/file.py:line)` as `path/file.py:func`, the form STAGES matches."""
    match = re.fullmatch(r"\s*(.*?) \((.*?)(?::\d+)?\)\s*", frame)
    return f"{match[2]}:{match[1]}" if match else frame


def samples_by_stage(collapsed: Path) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[stage_of(stack)] += int(count)
    return counts


def profile(args: argparse.Namespace, nginx: str, workdir: Path) -> None:
    env = harness.aisonar_env(workdir / "data")
    if args.database_url:
        env["AISONAR_DATABASE_URL"] = args.database_url
    if args.redis_url:
        env["AISONAR_REDIS_URL"] = args.redis_url
    with harness.nginx_upstream(nginx, workdir) as nginx_port:
        secret = harness.provision(env, nginx_port)
        proxy.limit_everything(env)
        with harness.gateway(env, workdir, None) as (port, process):
            model = harness.MODEL_SSE if args.stream else harness.MODEL_JSON
            script = workdir / "load.lua"
            script.write_text(wrk.lua_script(harness.request_body(model, args.stream), secret))
            url = f"http://127.0.0.1:{port}/v1{harness.CHAT_PATH}"
            # Long enough for startup to end: the token tables load in a thread at first.
            wrk.run_wrk(url, script, args.connections, WARMUP_S)
            collapsed = workdir / "profile.txt"
            spy = subprocess.Popen(
                [
                    *("py-spy", "record", "--format", "raw", "--nonblocking", "--threads"),
                    *("--rate", str(args.rate), "--pid", str(process.pid)),
                    *(["--gil"] if args.gil else []),
                    *("--output", str(collapsed)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            before = proxy.cpu_seconds(process.pid)
            result = wrk.run_wrk(url, script, args.connections, args.duration)
            used = proxy.cpu_seconds(process.pid) - before
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
    report(samples_by_stage(collapsed), used, result)
    if args.flame:
        shutil.copy(collapsed, args.flame)


def report(counts: collections.Counter[str], used_s: float, result: wrk.WrkResult) -> None:
    total = sum(counts.values()) or 1
    per_request_us = used_s / max(result.requests, 1) * 1e6
    print(f"{result.requests:,} requests, {result.requests_per_s:,.0f} req/s, ", end="")
    print(f"p50/p99 {result.p50_ms:.2f}/{result.p99_ms:.2f} ms, non-2xx {result.non_2xx}")
    print(f"gateway CPU: {used_s:.2f} s, {per_request_us:.0f} µs per request; {total} samples\n")
    print(f"{'stage':<36}{'samples':>9}{'share':>8}{'µs/request':>12}")
    for stage, count in counts.most_common():
        share = count / total
        print(f"{stage:<36}{count:>9}{share:>8.1%}{share * per_request_us:>12.0f}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="Seconds of profiled load.")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--stream", action="store_true", help="Profile streamed requests.")
    parser.add_argument("--rate", type=int, default=997, help="py-spy samples per second.")
    parser.add_argument("--flame", type=Path, help="Keep the collapsed stacks here.")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="Sample only the thread holding the GIL: where Python runs, without the "
        "threads waiting for it (SQLite's own work, done without the GIL, drops out).",
    )
    parser.add_argument("--database-url", help="AISONAR_DATABASE_URL for the gateway.")
    parser.add_argument("--redis-url", help="AISONAR_REDIS_URL for the gateway.")
    return parser.parse_args()


def main() -> int:
    if shutil.which("py-spy") is None:
        print("missing py-spy; install with: pip install py-spy")
        return 2
    args = parse_args()
    return harness.run_benchmark(args, profile)


if __name__ == "__main__":
    sys.exit(main())
